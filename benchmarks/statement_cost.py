"""What a statement costs the worker: one small write transaction, four ways, in one run.

    .venv/bin/python benchmarks/statement_cost.py [--transactions 2000] [--postgres]

The transaction is a completion's shape: an UPDATE … RETURNING of a job, an executemany UPDATE
of its target, an INSERT … RETURNING of an outbox row (a 500-character payload). It runs
through SQLAlchemy Core (as the hot paths did before service/store/driver) and through the
hot-path driver, on SQLite and, with --postgres, on a private PostgreSQL cluster. Printed: the
event loop's CPU per transaction (the thread that runs everything else of the worker), the
process's, and wall time, each as a ratio to the driver's.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import uvloop
from sqlalchemy import Column, Integer, MetaData, String, Table, Text, bindparam, insert, update
from sqlalchemy.ext.asyncio import AsyncEngine

from devstack.postgres import start_postgres
from service.store.db import create_engine
from service.store.driver import Database, Script, fetch, many, open_database

META = MetaData()
JOB = Table(
    "cost_job",
    META,
    Column("id", String(36), primary_key=True),
    Column("state", String(16)),
    Column("owner", String(64)),
    Column("n", Integer),
)
OUTBOX = Table(
    "cost_outbox",
    META,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("topic", String(200)),
    Column("payload", Text),
)
PAYLOAD = json.dumps({"text": "x" * 500})


async def prepare(engine: AsyncEngine, n: int) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(META.drop_all)
        await conn.run_sync(META.create_all)
        await conn.execute(
            insert(JOB),
            [{"id": f"j{i}", "state": "running", "owner": "w", "n": 0} for i in range(n)],
        )


async def through_sqlalchemy(engine: AsyncEngine, i: int) -> None:
    async with engine.begin() as conn:
        done = update(JOB).where(JOB.c.id.in_([f"j{i}"]), JOB.c.owner == "w")
        (await conn.execute(done.values(state="done").returning(JOB.c.id))).scalars().all()
        target = update(JOB).where(JOB.c.id == bindparam("b_id")).values(n=bindparam("b_n"))
        await conn.execute(target, [{"b_id": f"j{i}", "b_n": 1}])
        row = insert(OUTBOX).returning(OUTBOX.c.id, sort_by_parameter_order=True)
        await conn.execute(row, [{"topic": "t", "payload": PAYLOAD}])


def script(db: Database, i: int) -> Script[None]:
    d = db.dialect
    yield fetch(
        f"UPDATE cost_job SET state = 'done' WHERE {d.any('id')} AND owner = ? RETURNING id",
        d.array([f"j{i}"]),
        "w",
    )
    yield many("UPDATE cost_job SET n = ? WHERE id = ?", [(1, f"j{i}")])
    yield fetch("INSERT INTO cost_outbox (topic, payload) VALUES (?, ?) RETURNING id", "t", PAYLOAD)


async def measure(n: int, one: Callable[[int], Awaitable[None]]) -> dict[str, float]:
    await one(0)  # connections opened, statements prepared
    wall, loop, process = time.perf_counter(), time.thread_time(), time.process_time()
    for i in range(1, n):
        await one(i)
    return {
        "event loop CPU ms": 1000 * (time.thread_time() - loop) / (n - 1),
        "process CPU ms": 1000 * (time.process_time() - process) / (n - 1),
        "wall ms": 1000 * (time.perf_counter() - wall) / (n - 1),
    }


async def compare(url: str, n: int) -> dict[str, dict[str, float]]:
    engine, db = create_engine(url), open_database(url)
    try:
        await prepare(engine, n)
        old = await measure(n, lambda i: through_sqlalchemy(engine, i))
        await prepare(engine, n)
        new = await measure(n, lambda i: db.run(script(db, i)))
    finally:
        await db.close()
        await engine.dispose()
    return {"SQLAlchemy Core": old, "hot-path driver": new}


def show(name: str, rows: dict[str, dict[str, float]]) -> None:
    base = rows["hot-path driver"]
    print(f"\n{name}: per transaction (ratio to the driver)")
    for run, values in rows.items():
        cells = "  ".join(f"{k} {v:.3f} ({v / base[k]:.1f}×)" for k, v in values.items())
        print(f"  {run:16} {cells}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--transactions", type=int, default=2000)
    p.add_argument("--postgres", action="store_true", help="also on a private PostgreSQL")
    args = p.parse_args()
    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        runs = {"SQLite": f"sqlite+aiosqlite:///{folder / 'cost.db'}"}
        if args.postgres:
            pg = start_postgres()
            stack.callback(pg.stop)
            runs["PostgreSQL"] = pg.url
        for name, url in runs.items():
            show(name, uvloop.run(compare(url, args.transactions)))


if __name__ == "__main__":
    main()
