"""Security drill: the admin API and a worker as processes, with a canary for every secret.

1. Every secret setting (from the Settings class), the tenants' stored Z.ai keys and the
   minted API tokens hold canary values; the worker translates for two tenants on their own
   keys and one on the service's key, while the simulator answers some calls with 401, 429
   and 500, and some requests are poison.
2. The tenant isolation matrix, generated from the API's routes (tests/drills/security.py):
   no or bad credentials answer 401, a tenant's token on another tenant's resources 404 (by
   path and by id), a tenant's token on admin routes 403; nothing the refused calls aimed at
   changed; then the owner and an admin are served, so the 404s are isolation.
3. Hostile uploads answer a clear 4xx problem, and the API stays healthy and small.
4. No secret, whole or in part, in any log line, event, /metrics page or response captured
   along the way (the one response that hands out a minted token aside).
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.api.app import create_app
from service.api.problems import MEDIA_TYPE
from service.config import Settings
from service.sim.state import key_hash
from tests.drills.outcomes import Expected, run_id, settle, tally
from tests.drills.scale import pick, record
from tests.drills.security import (
    SIGNING_SECRET,
    TENANTS,
    Case,
    Resources,
    bearer,
    canary,
    canary_settings,
    hostile_uploads,
    leaks,
    operations,
    permitted,
    refusals,
)
from tests.support.api import ApiProcess
from tests.support.results import TopicCollector
from tests.support.worker import Stack, WorkerProcess, publish, read

pytestmark = [pytest.mark.drill, pytest.mark.kafka, pytest.mark.postgres, pytest.mark.e2e]

PER_TENANT = pick(short=10, long=100)
MAX_FILE = 1024 * 1024
PRODUCT_CSV = (
    Path(__file__).resolve().parents[2] / "glossaries/acme/product-terms.csv"
).read_bytes()
Call = Callable[..., Awaitable[httpx.Response]]


class Drill:
    """The deployment under test and everything captured from it."""

    def __init__(self, tmp_path: Path) -> None:
        self.env, self.secrets = canary_settings()
        # tenant -> [its configured token, then a minted one]
        self.tokens: dict[str, list[str]] = {
            t: [v] for t, v in json.loads(self.env["API_TENANT_TOKENS"]).items()
        }
        self.admin = self.env["API_ADMIN_TOKEN"]
        self.stored_keys = {t: canary(f"{t}zaikey") for t in TENANTS}  # PUT …/credentials/zai
        self.secrets += self.stored_keys.values()
        self.secrets.append(SIGNING_SECRET)  # PUT …/signing-secret, by the matrix
        self.responses: list[tuple[str, httpx.Response]] = []
        self.handed_out: set[int] = set()  # indexes of responses that hand out a token
        self.logs = {"worker log": tmp_path / "worker.log", "API log": tmp_path / "api.log"}
        self.problems: list[str] = []

    def settings(self) -> dict[str, str]:
        return self.env | {
            "LOG_LEVEL": "DEBUG",
            "GLOSSARY_MAX_FILE_BYTES": str(MAX_FILE),
            "ZAI_MAX_RETRIES": "1",
            "ZAI_BACKOFF_BASE": "0.01",
        }

    def check(self, ok: bool, what: str) -> None:
        if not ok:
            self.problems.append(what)


async def test_security_drill(
    kafka_bootstrap_servers: str, pg_url: str, sim: Any, tmp_path: Path
) -> None:
    drill = Drill(tmp_path)
    stack = Stack(kafka_bootstrap_servers, pg_url, sim.agents_base, sim.files_base)
    api = ApiProcess(stack, drill.logs["API log"], **drill.settings())
    worker: WorkerProcess | None = None
    try:
        api.wait_ready()
        async with httpx.AsyncClient(base_url=api.base_url, timeout=120) as http:

            async def call(label: str, method: str, url: str, **kw: Any) -> httpx.Response:
                response = await http.request(method, url, **kw)
                drill.responses.append((label, response))
                return response

            own = await seed(drill, call)
            worker = WorkerProcess(stack, drill.logs["worker log"], **drill.settings())
            worker.wait_ready()
            translated = await translate(drill, stack, sim)
            matrix = await isolation_matrix(drill, call, own)
            hostile = await uploads(drill, call, api)
            pages = {"worker /metrics": worker.get("/metrics").text}
            pages["API /metrics"] = (await call("metrics", "GET", "/metrics")).text
    finally:
        if worker is not None:
            drill.check(worker.stop() == 0, "the worker did not stop cleanly")
        # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal.
        drill.check(api.stop() in (0, -15), "the API did not stop cleanly")

    sources = pages | await topics(stack) | captured(drill) | logs(drill)
    found = leaks(drill.secrets, sources)
    scanned = {
        "log_lines": sum(s.count("\n") for k, s in sources.items() if k.endswith("log")),
        "responses": len(drill.responses),
        "events": sum(s.count("\n") for k, s in sources.items() if k.endswith("topic")),
        "secrets": len(drill.secrets),
    }
    record(
        "security",
        {
            "database": "postgresql",
            "translation": translated,
            "matrix": matrix,
            "hostile_uploads": hostile,
            "scanned": scanned,
            "leaks": len(found),
        },
    )
    assert drill.problems == [], "\n".join(drill.problems)
    assert found == [], "\n".join(found)


async def seed(drill: Drill, call: Call) -> dict[str, Resources]:
    """Per tenant: a default glossary, a scratch one, its own Z.ai key, a budget; then minted
    tokens (whose values are secrets too) and one more token for the matrix to revoke."""
    ids: dict[str, str] = {}
    for t in TENANTS:
        auth = bearer(drill.tokens[t][0])
        base = f"/v1/tenants/{t}/glossaries"
        files = {"file": ("terms.csv", PRODUCT_CSV, "text/csv")}
        data = {"name": "product", "is_default": "true"}
        r = await call("seed", "POST", base, files=files, data=data, headers=auth)
        assert r.status_code == 201, r.text
        ids[t] = r.json()["id"]
        scratch = {
            "name": "scratch",
            "source_lang": "en",
            "entries": [{"term": "x", "translations": {"de": "y"}}],
        }
        r = await call("seed", "POST", base, json=scratch, headers=auth)
        assert r.status_code == 201, r.text
        key = {"api_key": drill.stored_keys[t]}
        r = await call("seed", "PUT", f"/v1/tenants/{t}/credentials/zai", json=key, headers=auth)
        assert r.status_code == 200, r.text
        budget, admin = {"monthly_tokens": 10**9}, bearer(drill.admin)
        r = await call("seed", "PUT", f"/v1/tenants/{t}/budget", json=budget, headers=admin)
        assert r.status_code == 200, r.text
    minted: dict[str, str] = {}
    for name, tenant in (("ci-acme", "acme"), ("ci-globex", "globex"), ("doomed", "acme")):
        body = {"name": name, "tenant_id": tenant}
        r = await call("mint", "POST", "/v1/tokens", json=body, headers=bearer(drill.admin))
        assert r.status_code == 201, r.text
        drill.handed_out.add(len(drill.responses) - 1)
        drill.secrets.append(r.json()["token"])
        minted[name] = r.json()["token"] if name != "doomed" else r.json()["id"]
    for t in TENANTS:
        drill.tokens[t].append(minted[f"ci-{t}"])
    return {
        t: Resources(t, "product", ids[t], "scratch", f"{t}-0", minted["doomed"]) for t in TENANTS
    }


async def translate(drill: Drill, stack: Stack, sim: Any) -> dict[str, Any]:
    """Requests of acme and globex (their own keys) and initech (the service's key), with
    upstream errors and poison, so the secrets are used on every path, failures included."""
    sim.script("agents", rates={"401_1002": 0.1, "429_1302": 0.1, "500": 0.05}, seed=7)
    expected, messages = Expected(), list[bytes]()
    for tenant in (*TENANTS, "initech"):
        for i in range(PER_TENANT):
            body = {
                "request_id": f"{tenant}-{i}",
                "tenant_id": tenant,
                "source_lang": "en",
                "target_langs": ["de", "fr"],
                "text": f"Security drill {run_id()}: the invoice of {tenant}",
            }
            expected.request(body)
            messages.append(json.dumps(body).encode())
    for raw, reason in ((b"{oops", "bad_json"), (b'{"tenant_id": "acme"}', "schema")):
        expected.letter(raw, reason)
        messages.append(raw)
    async with (
        TopicCollector(stack.bootstrap, stack.results) as results,
        TopicCollector(stack.bootstrap, stack.dlq) as dlq,
    ):
        await publish(stack.bootstrap, stack.requests, messages)
        await settle(expected, results, dlq, within=pick(short=120, long=600))
    got = tally(expected, results, dlq)
    drill.check(got.lost == 0 and got.strays == 0, f"translation: {got}")
    used = sim.counters()["by_key"]
    for label, key in [*drill.stored_keys.items(), ("service", drill.env["ZAI_API_KEY"])]:
        drill.check(key_hash(key) in used, f"the {label} key was never used upstream")
    return got.figures() | {"upstream_calls": sim.counters()["calls"]["agents"]}


async def isolation_matrix(drill: Drill, call: Call, own: dict[str, Resources]) -> dict[str, Any]:
    ops = operations(create_app(Settings(_env_file=None)))
    for t in TENANTS:  # after the translations: from now on each tenant requires signatures
        secret = {"json": {"secret": SIGNING_SECRET}, "headers": bearer(drill.admin)}
        r = await call("seed", "PUT", f"/v1/tenants/{t}/signing-secret", **secret)
        drill.check(r.status_code == 200, f"signing secret of {t}: {r.text}")
    before = await snapshot(drill, call)
    refused = refusals(ops, own, drill.tokens)
    for case in refused:
        await run(drill, call, case)
    drill.check(await snapshot(drill, call) == before, "a refused call changed something")
    served = permitted(ops, own, drill.tokens, drill.admin)
    for case in served:
        await run(drill, call, case)
    return {"operations": len(ops), "refusals": len(refused), "permitted": len(served)}


async def run(drill: Drill, call: Call, case: Case) -> None:
    r = await call(case.label(), case.method, case.url, headers=case.headers, **case.kwargs)
    if case.expect is None:
        drill.check(r.is_success, f"{case.label()}: {r.status_code}, expected 2xx: {r.text[:200]}")
        return
    if case.expect == 303:  # the console: back to its sign-in form
        location = r.headers.get("location", "")
        drill.check(
            r.status_code == 303 and location.startswith("/console/sign-in"),
            f"{case.label()}: {r.status_code} to {location!r}, expected 303 to sign-in",
        )
        return
    drill.check(
        r.status_code == case.expect and r.headers.get("content-type") == MEDIA_TYPE,
        f"{case.label()}: {r.status_code}, expected {case.expect}: {r.text[:200]}",
    )
    if case.expect == 401:
        drill.check(r.headers.get("www-authenticate") == "Bearer", f"{case.label()}: no challenge")


async def snapshot(drill: Drill, call: Call) -> list[Any]:
    """What an admin reads of both tenants: the matrix's refused calls must change none of it."""
    paths = ["/v1/tokens"]
    for t in TENANTS:
        base = f"/v1/tenants/{t}"
        paths += [f"{base}/glossaries", f"{base}/glossaries/product", f"{base}/settings"]
        paths += [f"{base}/credentials/zai", f"{base}/connection", f"{base}/jobs/{t}-0"]
        paths += [f"{base}/glossaries/product/versions/1/entries"]
        paths += [f"{base}/budget", f"{base}/usage?group_by=pair", f"{base}/signing-secret"]
    admin = bearer(drill.admin)
    return [(p, (await call("snapshot", "GET", p, headers=admin)).json()) for p in paths]


async def uploads(drill: Drill, call: Call, api: ApiProcess) -> dict[str, Any]:
    auth, base = bearer(drill.tokens["acme"][0]), "/v1/tenants/acme/glossaries"
    rss = api.rss_kib()
    statuses: dict[str, int] = {}
    slowest = 0.0
    for name, (kwargs, status) in hostile_uploads(MAX_FILE).items():
        started = time.monotonic()
        headers = auth | kwargs.pop("headers", {})
        r = await call(f"hostile upload: {name}", "POST", base, headers=headers, **kwargs)
        slowest = max(slowest, time.monotonic() - started)
        statuses[name] = r.status_code
        clear = r.headers.get("content-type") == MEDIA_TYPE and r.json().get("detail")
        drill.check(r.status_code == status and bool(clear), f"{name}: {r.status_code} {r.text}")
    for path in ("/healthz", "/readyz"):
        drill.check((await call("health", "GET", path)).status_code == 200, f"{path} after")
    after = await call("after", "POST", base, headers=auth, json=canary_glossary())
    drill.check(after.status_code == 201, f"a good upload after the hostile ones: {after.text}")
    names = {g["name"] for g in (await call("list", "GET", base, headers=auth)).json()}
    drill.check(names.isdisjoint({"hostile", "streamed"}), f"a hostile upload was kept: {names}")
    grown = api.rss_kib() - rss
    drill.check(grown < 256 * 1024, f"the API grew by {grown} KiB")
    return {"uploads": statuses, "slowest_s": round(slowest, 2), "rss_growth_kib": grown}


def canary_glossary() -> dict[str, Any]:
    return {
        "name": "after",
        "source_lang": "en",
        "entries": [{"term": "after", "translations": {"de": "nach"}}],
    }


async def topics(stack: Stack) -> dict[str, str]:
    """Every record of the output topics, values and headers, one line each."""
    out = {}
    for label, topic in (
        ("results topic", stack.results),
        ("DLQ topic", stack.dlq),
        ("glossary events topic", f"gl-{stack.run}"),
    ):
        records = await read(stack.bootstrap, topic, 1_000_000, wait_s=3)
        lines = [f"{r.key!r} {r.headers!r} {r.value.decode(errors='replace')}" for r in records]
        out[label] = "\n".join(lines) + "\n"
    return out


def captured(drill: Drill) -> dict[str, str]:
    out = {}
    for i, (label, r) in enumerate(drill.responses):
        text = r.text
        if i in drill.handed_out:  # the one place a minted token may appear, by design
            text = json.dumps({k: v for k, v in r.json().items() if k != "token"})
        out[f"response {i} ({label})"] = f"{r.status_code} {dict(r.headers)!r} {text}"
    return out


def logs(drill: Drill) -> dict[str, str]:
    return {label: path.read_text(errors="replace") for label, path in drill.logs.items()}
