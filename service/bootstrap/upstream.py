"""Z.ai clients: one per key, direct or through Truto's proxy, and the tenants' pool of them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from service.auth.credentials import CredentialCipher
from service.bootstrap.traces import traced_client, traced_transport
from service.config import Settings
from service.metrics import Metrics, child
from service.store.tenants import SqlTenants
from service.zai import ZaiClient
from service.zai.retry import RetryPolicy
from service.zai.transport import AiohttpTransport
from service.zai.truto import TrutoGateway

# Any non-empty key passes the simulator when it runs without --api-key.


# Any non-empty key passes the simulator when it runs without --api-key.
SIMULATOR_KEY = "simulator.local-key"


def _client_options(settings: Settings, metrics: Metrics | None = None) -> dict[str, Any]:
    """Timeouts, concurrency, retries and polling: the same for direct and Truto clients;
    each HTTP exchange counted in `metrics` when given."""
    return {
        "on_attempt": _attempt_counter(metrics) if metrics is not None else None,
        "connect_timeout": settings.zai_connect_timeout,
        "read_timeout": settings.zai_read_timeout,
        "max_concurrency": settings.zai_max_concurrency,
        "retry": RetryPolicy(
            max_retries=settings.zai_max_retries,
            base=settings.zai_backoff_base,
            max=settings.zai_backoff_max,
        ),
        "async_deadline": settings.zai_async_deadline,
        "tokenizer_model": settings.zai_tokenizer_model,
    }


def _attempt_counter(metrics: Metrics) -> Callable[[str, str], None]:
    def count(route: str, status: str) -> None:
        child(metrics.upstream_attempts, route, status).inc()

    return count


def zai_client(
    settings: Settings, api_key: SecretStr | str | None = None, metrics: Metrics | None = None
) -> ZaiClient:
    """A client for the configured region or explicit URLs; without a key, the simulator."""
    key = api_key or settings.zai_api_key or SIMULATOR_KEY
    agents, files = settings.zai_base_urls()
    options = _client_options(settings, metrics)
    return traced_client(ZaiClient(key, agents_base_url=agents, files_base_url=files, **options))


def truto_gateway(settings: Settings) -> TrutoGateway | None:
    """The process's Truto gateway (pool, routes, budgets); None without TRUTO_API_TOKEN."""
    if settings.truto_api_token is None:
        return None
    return TrutoGateway(
        settings.truto_api_token,
        settings.truto_base_url,
        resources={str(op): value for op, value in settings.truto_resources.items()},
        account_limit=settings.truto_account_rate_limit,
        token_limit=settings.truto_token_rate_limit,
        period=settings.truto_rate_period,
        transport=traced_transport(AiohttpTransport(httpx.Limits())),  # as ZaiClient does
    )


def tenants(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], metrics: Metrics | None = None
) -> SqlTenants:
    default_key = settings.zai_api_key or SecretStr(SIMULATOR_KEY)
    gateway = truto_gateway(settings)
    return SqlTenants(
        sessions,
        CredentialCipher(settings.credentials_key),
        default_key,
        lambda key: zai_client(settings, key, metrics),
        make_truto_client=(
            (lambda account: gateway.client(account, **_client_options(settings, metrics)))
            if gateway
            else None
        ),
        close_truto=gateway.aclose if gateway else None,
    )
