from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from service.api.app import create_app
from service.auth.credentials import new_key
from service.config import Settings

ADMIN = "admin-test-token"
ACME = "acme-test-token"
GLOBEX = "globex-test-token"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def api_settings(db_url: str, kafka_bootstrap_servers: str) -> Settings:
    return Settings(
        database_url=db_url,
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        topic_glossary_events=f"glossary-events-{uuid.uuid4().hex[:8]}",
        api_admin_token=SecretStr(ADMIN),
        api_tenant_tokens={"acme": SecretStr(ACME), "globex": SecretStr(GLOBEX)},
        credentials_key=SecretStr(new_key()),
    )


@pytest.fixture
def client(api_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(api_settings)) as c:
        yield c
