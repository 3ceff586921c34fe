"""Which requests may speak for their tenant: the intake's signature check (docs/events.md,
"Signed requests"), before any job is made, so a refused request costs nothing upstream.

Most tenants require no signature, and the intake takes batches of hundreds of messages: the
requirement of each tenant is cached (`cache_seconds`), and a batch's misses are fetched in one
call, so a tenant without a secret costs a dict look-up per message and one query per
`cache_seconds`. A secret stored, rotated or removed takes effect within that time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from service.pipeline.contract.decode import UNAUTHENTICATED, Rejection
from service.pipeline.contract.signature import HEADER, verify
from service.pipeline.ports import SigningKeys, SigningSecrets


@dataclass(frozen=True)
class AuthConfig:
    tolerance: float = 300.0  # seconds a signature is valid, either side of the clock
    cache_seconds: float = 10.0


class RequestAuth:
    def __init__(
        self,
        secrets: SigningSecrets,
        config: AuthConfig = AuthConfig(),
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._secrets = secrets
        self._cfg = config
        self._clock, self._monotonic = clock, monotonic
        self._known: dict[str, tuple[float, SigningKeys | None]] = {}  # tenant → (at, keys)

    async def load(self, tenant_ids: Iterable[str]) -> None:
        """Fetch, in one call, the tenants not cached or cached too long ago."""
        now = self._monotonic()
        stale = {t for t in tenant_ids if now - self._known.get(t, (-1e18, None))[0] > self._ttl}
        if not stale:
            return
        found = await self._secrets.signing_keys(stale)
        for tenant in stale:
            self._known[tenant] = (now, found.get(tenant))
        if len(self._known) > 100_000:  # tenants seen once long ago: forget them
            cutoff = now - self._ttl
            self._known = {t: v for t, v in self._known.items() if v[0] >= cutoff}

    @property
    def _ttl(self) -> float:
        return self._cfg.cache_seconds

    def check(
        self,
        tenant_id: str,
        headers: Mapping[str, str],
        body: bytes,
        appended_at: float | None = None,
    ) -> Rejection | None:
        """Why the request may not speak for `tenant_id` (`load` it first), or None.
        `appended_at`: the broker's LogAppendTime of the message, if the topic keeps one: the
        signature's age is then how long it took to reach Kafka, not how long it waited there."""
        keys = self._known.get(tenant_id, (0.0, None))[1]
        if keys is None:
            return None
        now = self._clock()
        secrets = list(keys.secrets)
        if keys.previous and keys.previous_until and keys.previous_until.timestamp() > now:
            secrets.append(keys.previous)
        if not secrets:
            why = "the tenant's signing secret cannot be decrypted; store it again"
            return Rejection(UNAUTHENTICATED, why)
        signed_at_most = appended_at if appended_at is not None else now
        refused = verify(
            headers.get(HEADER),
            body,
            secrets,
            now=signed_at_most,
            tolerance=self._cfg.tolerance,
        )
        return Rejection(UNAUTHENTICATED, refused) if refused else None
