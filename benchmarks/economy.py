"""Economy benchmark: agent calls with segment packing against one call per segment.

    .venv/bin/python benchmarks/economy.py

Runs the localization corpus (tests/data/l10n/corpus.jsonl, 200+ real-world-style strings) as
one segments request per target language through the real worker (in-process), a real Kafka
broker (local KRaft unless KAFKA_BOOTSTRAP_SERVERS is set), SQLite and the simulator over HTTP,
twice: with packing (the default) and with TRANSLATION_PACKING off (one call per text).
Prints agent calls, tokens and wall time for both, and the reduction.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devstack.kafka import start_kafka
from service.l10n.packing import pack
from service.sim.testing import running_simulator
from tests.support.pipeline import request, roundtrip, running_worker, seed_glossary

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "data" / "l10n" / "corpus.jsonl"
LANGS = ["de", "fr", "ja"]


def corpus() -> list[dict[str, str]]:
    rows = [json.loads(line) for line in CORPUS.read_text("utf-8").splitlines() if line]
    return [{"id": r["id"], "text": r["text"]} for r in rows]


async def measure(bootstrap: str, sim: Any, packed: bool) -> dict[str, float]:
    sim.reset()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'economy.db'}"
        overrides = {"translation_packing": packed}
        async for worker in running_worker(bootstrap, url, sim, **overrides):
            await seed_glossary(worker)
            started = time.perf_counter()
            events = await roundtrip(
                worker, [request("economy", text=None, segments=corpus(), target_langs=LANGS)], 3
            )
            elapsed = time.perf_counter() - started
    usage = [e["usage"] for e in events]
    failed = sum(len(e["failed_segments"]) for e in events)
    return {
        "calls": sim.counters()["calls"]["agents"],
        "tokens": sum(u["total_tokens"] for u in usage),
        "seconds": elapsed,
        "failed": failed,
    }


async def main() -> None:
    kafka = None
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not bootstrap:
        kafka = start_kafka()
        bootstrap = kafka.bootstrap_servers
    try:
        with running_simulator() as sim:
            with_packing = await measure(bootstrap, sim, packed=True)
            without = await measure(bootstrap, sim, packed=False)
    finally:
        if kafka:
            kafka.stop()
    texts = corpus()
    print(f"corpus: {len(texts)} segments x {len(LANGS)} languages ({', '.join(LANGS)})")
    print(f"pure packing plan: {len(pack([t['text'] for t in texts]))} batches per language")
    for name, m in (("packed", with_packing), ("one call per segment", without)):
        print(
            f"{name:>22}: {m['calls']:.0f} agent calls, {m['tokens']:.0f} tokens, "
            f"{m['seconds']:.1f} s, {m['failed']:.0f} failed segments"
        )
    print(f"calls saved by packing: {1 - with_packing['calls'] / without['calls']:.1%}")


if __name__ == "__main__":
    asyncio.run(main())
