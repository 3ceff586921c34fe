"""`zai-l10n translate` and `zai-l10n status` end to end: the command in its own process, the
real broker, an in-process worker on SQLite and the simulator over HTTP."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.l10n.formats import get_format
from service.worker.app import WorkerService
from tests.support.api import ApiProcess
from tests.support.pipeline import running_worker, seed_glossary
from tests.support.worker import Stack, free_port

pytestmark = [pytest.mark.kafka, pytest.mark.e2e]
ROOT = Path(__file__).resolve().parents[2]
ADMIN = "admin-token-for-the-status-test-0123456789"
FILES = ROOT / "tests/data/l10n/files"


def keys(units: list[Any]) -> list[str]:
    return sorted({u.id.split("[")[0] for u in units})


@dataclass
class Run:
    code: int
    out: str


@pytest.fixture(scope="module")
async def worker(
    kafka_bootstrap_servers: str, simulator: Any, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[WorkerService]:
    simulator.reset()  # shared by the session: an earlier test may have left faults scripted
    db = tmp_path_factory.mktemp("cli") / "cli.db"
    async for svc in running_worker(
        kafka_bootstrap_servers, f"sqlite+aiosqlite:///{db}", simulator
    ):
        await seed_glossary(svc)  # acme's product-terms, the default
        yield svc


async def cli(w: WorkerService | None, *args: str, stdin: bytes = b"", **env: str) -> Run:
    s = w.settings if w else None
    settings_env = (
        {
            "KAFKA_BOOTSTRAP_SERVERS": s.kafka_bootstrap_servers,
            "TOPIC_REQUESTS": s.topic_requests,
            "TOPIC_RESULTS": s.topic_results,
            "TOPIC_DLQ": s.topic_dlq,
            "DATABASE_URL": s.database_url,
        }
        if s
        else {}
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "service",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "COLUMNS": "200", **settings_env, **env},
    )
    out, _ = await asyncio.wait_for(proc.communicate(stdin), 240)
    assert proc.returncode is not None
    return Run(proc.returncode, out.decode())


async def test_a_po_file_and_android_strings_into_german_and_french(
    worker: WorkerService, tmp_path: Path
) -> None:
    run = await cli(
        worker,
        "translate",
        str(FILES / "messages.po"),
        str(FILES / "strings.xml"),
        "--tenant", "acme", "--to", "de,fr", "--from", "en", "--out", str(tmp_path),
    )  # fmt: skip
    assert run.code == 0, run.out
    names = sorted(os.listdir(tmp_path))
    assert names == ["messages.de.po", "messages.fr.po", "strings.de.xml", "strings.fr.xml"]
    for name in names:
        fmt = get_format("po" if name.endswith(".po") else "android")
        source = (FILES / (name.split(".")[0] + "." + name.rsplit(".", 1)[1])).read_bytes()
        translated = (tmp_path / name).read_bytes()
        # The same strings (plural forms per the target's CLDR categories) in a file its format
        # reads; the text was translated.
        assert keys(fmt.extract(translated)) == keys(fmt.extract(source))
        assert translated != source
    assert "completed" in run.out and "Translations" in run.out  # the QA summary table
    assert "segments ok/warn/failed" in run.out


async def test_text_from_stdin_and_status_of_its_job(worker: WorkerService) -> None:
    run = await cli(
        worker, "translate", "-", "--tenant", "acme", "--to", "de", stdin=b"Open the dashboard."
    )
    assert run.code == 0, run.out
    assert "de:" in run.out
    request_id = run.out.split("as request ", 1)[1].split()[0]
    status = await cli(worker, "status", request_id, "--tenant", "acme")
    assert status.code == 0, status.out
    assert f"Job {request_id} of acme: done" in status.out and "completed" in status.out


async def test_status_through_the_api_with_a_tenant_token(
    worker: WorkerService, tmp_path: Path
) -> None:
    """A platform team has the API's URL and its tenant token, not the database."""
    s = worker.settings
    stack = Stack(s.kafka_bootstrap_servers, s.database_url, "http://127.0.0.1:9", "http://x")
    api = ApiProcess(stack, tmp_path / "api.log", API_ADMIN_TOKEN=ADMIN)
    try:
        # In threads: the worker runs on this test's event loop.
        await asyncio.to_thread(api.wait_ready)
        async with httpx.AsyncClient(base_url=api.base_url) as http:
            minted = await http.post(
                "/v1/tokens",
                json={"name": "ci", "tenant_id": "acme"},
                headers={"Authorization": f"Bearer {ADMIN}"},
            )
        token = minted.json()["token"]
        run = await cli(None, "translate", "--text", "Open the report.", "--tenant", "acme",
                        "--to", "de", **_broker_env(worker))  # fmt: skip
        assert run.code == 0, run.out
        request_id = run.out.split("as request ", 1)[1].split()[0]
        api_env = {"ZAI_L10N_API_URL": api.base_url, "ZAI_L10N_API_TOKEN": token}
        status = await cli(None, "status", request_id, "--tenant", "acme", **api_env)
        assert status.code == 0, status.out
        assert f"Job {request_id} of acme: done" in status.out and "completed" in status.out
        # Another tenant's view of it: the API answers 404, as for any job it does not have.
        other = await cli(None, "status", request_id, "--tenant", "globex", **api_env)
        assert other.code == 1 and "tenant 'globex' has no job" in other.out
        bad = {**api_env, "ZAI_L10N_API_TOKEN": "zl10n_not-a-token"}
        refused = await cli(None, "status", request_id, "--tenant", "acme", **bad)
        assert refused.code == 1 and "refused the token" in refused.out
        assert "not-a-token" not in refused.out and token not in status.out
    finally:
        api.stop()
    gone = await cli(None, "status", "x", "--tenant", "acme", ZAI_L10N_API_URL=api.base_url,
                     ZAI_L10N_API_TOKEN="t")  # fmt: skip
    assert gone.code == 1 and f"cannot reach the API at {api.base_url}" in gone.out


def _broker_env(w: WorkerService) -> dict[str, str]:
    s = w.settings
    return {
        "KAFKA_BOOTSTRAP_SERVERS": s.kafka_bootstrap_servers,
        "TOPIC_REQUESTS": s.topic_requests,
        "TOPIC_RESULTS": s.topic_results,
        "TOPIC_DLQ": s.topic_dlq,
    }


async def test_an_unknown_glossary_fails_with_its_code(worker: WorkerService) -> None:
    run = await cli(
        worker, "translate", "--text", "Hello", "--tenant", "acme", "--to", "de,fr",
        "--glossary", "no-such-glossary",
    )  # fmt: skip
    assert run.code == 1, run.out
    assert run.out.count("glossary.not_found") >= 2  # in the table and in the failure lines


async def test_an_unreadable_file_fails_before_publishing(tmp_path: Path) -> None:
    # (Unusable contents, broken or of no known format, are covered in tests/unit/client.)
    missing = tmp_path / "missing.po"
    run = await cli(None, "translate", str(missing), "--tenant", "acme", "--to", "de")
    assert run.code == 2, run.out
    assert f"cannot read {missing}: No such file or directory" in run.out.replace("\n", "")
    assert "Traceback" not in run.out


async def test_no_broker_is_a_clear_error() -> None:
    port = free_port()  # nothing listens there
    run = await cli(
        None, "translate", "--text", "Hi", "--tenant", "acme", "--to", "de",
        KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{port}",
    )  # fmt: skip
    assert run.code == 3, run.out
    assert f"cannot reach Kafka at 127.0.0.1:{port}" in run.out
    assert "Traceback" not in run.out


async def test_status_of_an_unknown_job(worker: WorkerService) -> None:
    run = await cli(worker, "status", "never-sent", "--tenant", "acme")
    assert run.code == 1 and "has no job 'never-sent'" in run.out
