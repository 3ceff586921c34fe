"""`zai-l10n status` through the admin API: what a platform team has (the API's URL and its
tenant token), not the database. Gives the API's JobStatus as JSON, or an error message that
says what went wrong; never the token."""

from __future__ import annotations

from typing import Any

import httpx


def from_api(base_url: str, token: str, tenant: str, request_id: str) -> dict[str, Any] | str:
    url = f"{base_url.rstrip('/')}/v1/tenants/{tenant}/jobs/{request_id}"
    try:
        reply = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    except httpx.HTTPError as exc:
        return f"cannot reach the API at {base_url}: {type(exc).__name__}"
    if reply.status_code == 404:
        return f"tenant {tenant!r} has no job {request_id!r}"
    if reply.status_code in (401, 403):
        return f"the API refused the token for tenant {tenant!r} ({reply.status_code})"
    if reply.status_code != 200:
        return f"the API answered {reply.status_code}: {reply.text[:200]}"
    job: dict[str, Any] = reply.json()
    return job
