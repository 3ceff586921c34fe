"""The admin API as operators run it (`zai-l10n api`, uvicorn in its own process): every line it
writes, uvicorn's access log included, is one JSON object."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.support.api import ApiProcess
from tests.support.worker import Stack

pytestmark = pytest.mark.kafka


def test_every_log_line_is_json_access_log_included(
    kafka_bootstrap_servers: str, tmp_path: Path
) -> None:
    db = f"sqlite+aiosqlite:///{tmp_path / 'api.db'}"
    stack = Stack(kafka_bootstrap_servers, db, "http://127.0.0.1:9/api", "http://127.0.0.1:9/api")
    log = tmp_path / "api.log"
    api = ApiProcess(stack, log, LOG_LEVEL="INFO")
    try:
        api.wait_ready()
        assert httpx.get(f"{api.base_url}/v1/tenants/acme/glossaries").status_code == 401
    finally:
        api.stop()  # uvicorn re-raises SIGTERM after its graceful shutdown: -15
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    access = [line for line in lines if line["logger"] == "uvicorn.access"]
    assert any("/v1/tenants/acme/glossaries" in a["msg"] and "401" in a["msg"] for a in access)
    assert {line["logger"] for line in lines} >= {"uvicorn.error", "uvicorn.access"}
    assert not any("color_message" in line for line in lines)  # uvicorn's ANSI copy, dropped
