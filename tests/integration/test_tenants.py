"""Tenant look-ups of the pipeline: cached, and concurrent misses share one query."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from service.auth.credentials import CredentialCipher
from service.store.db import session_factory
from service.store.tenants import SqlTenants
from service.zai import ZaiClient

pytestmark = pytest.mark.postgres


def tenants_on(engine: AsyncEngine) -> SqlTenants:
    def client(key: SecretStr) -> ZaiClient:
        return ZaiClient(key, agents_base_url="http://sim", files_base_url="http://sim")

    return SqlTenants(
        session_factory(engine), CredentialCipher(None), SecretStr("service.key"), client
    )


async def test_jobs_claimed_together_cost_one_query_per_tenant(engine: AsyncEngine) -> None:
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    tenants = tenants_on(engine)
    clients = await asyncio.gather(*(tenants.translator("acme") for _ in range(20)))
    policies = await asyncio.gather(*(tenants.policy("acme") for _ in range(20)))
    await tenants.translator("acme")  # cached now
    await tenants.aclose()
    assert len({id(c) for c in clients}) == 1 and set(policies) == {None}
    assert sum("tenant_credential" in s for s in statements) == 1
    assert sum("tenant_settings" in s for s in statements) == 1
