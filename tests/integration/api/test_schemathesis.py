"""A Schemathesis run against the admin API's own OpenAPI document finds no 5xx.

The real app runs over ASGI on a fresh PostgreSQL database and the real Kafka broker. Before the
run a few glossaries, a credential and a token are seeded, and most generated cases that are meant
to be valid get their path parameters from those known names, so reads, replaces, patches and
exports hit existing glossaries instead of only answering 404. Requests alternate between the admin
token and acme's tenant token. The run is the one `schemathesis run` does (examples, coverage and
fuzzing phases, positive and negative data), driven through its engine: its pytest plugin
(`schemathesis.pytest.from_fixture`) does not work with pytest 9.2, which dropped `Node._nodeid`.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import pytest
import schemathesis
from fastapi.testclient import TestClient
from pydantic import SecretStr
from schemathesis import engine
from schemathesis.core.parameters import ParameterLocation
from schemathesis.engine import Status, events
from schemathesis.generation import GenerationMode

from service.api.app import create_app
from service.auth.credentials import new_key
from service.config import Settings
from service.glossary.problems import PROBLEM_TYPE
from tests.integration.api.conftest import ACME, ADMIN, GLOBEX, auth

pytestmark = [pytest.mark.postgres, pytest.mark.kafka]

ROOT = Path(__file__).resolve().parents[3]
PRODUCT_CSV = (ROOT / "glossaries/acme/product-terms.csv").read_bytes()


MAX_EXAMPLES = 30
SEED = 20240611

LEGAL = {
    "name": "legal",
    "source_lang": "en",
    "entries": [
        {"term": "Acme", "translations": {"de": "Acme"}, "do_not_translate": True},
        {"term": "warranty", "translations": {"de": "Gewährleistung", "fr": "garantie"}},
    ],
}
SCRATCH = ["scratch-1", "scratch-2", "scratch-3"]
GLOSSARY_CONTENT = {
    "POST /v1/tenants/{tenant}/glossaries",
    "PUT /v1/tenants/{tenant}/glossaries/{glossary}",
    "PATCH /v1/tenants/{tenant}/glossaries/{glossary}/entries",
}
# What a glossary body can break that no JSON Schema can state: rules between entries (one
# term twice with other values), between an entry and the body or the stored glossary (a
# translation into the source language; a patch that leaves nothing), the entry's size in
# UTF-8 bytes across its fields, and a do_not_translate entry whose translation differs from
# its term. Each answers a 422 glossary problem naming it; any other refusal of a schema-valid
# body is a failure. (A file's content, multipart, is not described by the schema at all.)
INEXPRESSIBLE = {
    ("duplicate_term", None),
    ("entry_too_large", None),
    ("too_many_entries", None),
    ("empty_glossary", None),
    ("language_mismatch", "translations."),
    ("conflicting_flags", "translations."),
}
# A period is two valid days, but `from` after `to` or more than 366 days apart is a documented
# 422 (docs/usage.md): a rule between two parameters, which the schema cannot state.
PERIODS = {
    "GET /v1/tenants/{tenant}/usage",
    "GET /v1/tenants/{tenant}/usage/export",
    "GET /v1/usage",
    "GET /v1/usage/export",
}
# `{"kind": "zai_key"}` without `api_key` means "the stored key": valid by the schema, a
# documented 422 while no key is stored (which the run changes as it goes).
STATEFUL_BODY = {"PUT /v1/tenants/{tenant}/connection"}
# Operations that must have succeeded at least once, so the run is known to have reached them.
MUST_SUCCEED = {
    "PUT /v1/tenants/{tenant}/connection",
    "GET /v1/tenants/{tenant}/connection",
    "POST /v1/tenants/{tenant}/glossaries",
    "GET /v1/tenants/{tenant}/glossaries/{glossary}",
    "PUT /v1/tenants/{tenant}/glossaries/{glossary}",
    "PATCH /v1/tenants/{tenant}/glossaries/{glossary}/entries",
    "GET /v1/tenants/{tenant}/glossaries/{glossary}/export",
    "GET /v1/tenants/{tenant}/glossaries/{glossary}/versions/{version}/entries",
    "PUT /v1/tenants/{tenant}/credentials/zai",
    "POST /v1/tokens",
    "GET /v1/tenants/{tenant}/usage",
    "PUT /v1/tenants/{tenant}/budget",
}


BODIES_CHECKED: Counter[str] = Counter()  # schema-valid JSON bodies examined, by operation


@schemathesis.check
def glossary_body_acceptance(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """positive_data_acceptance for glossary bodies: a schema-valid body may be refused only
    for what INEXPRESSIBLE lists, or for a file's content (multipart)."""
    if case.operation.label not in GLOSSARY_CONTENT or case.meta is None:
        return None
    if not case.meta.generation.mode.is_positive or (case.media_type or "").startswith(
        "multipart/"
    ):
        return None
    BODIES_CHECKED[case.operation.label] += 1
    if response.status_code != 422:
        return None
    problem = response.json()
    errors = problem.get("errors") or [] if problem.get("type") == PROBLEM_TYPE else []
    unexplained = [e for e in errors if not _inexpressible(e)] or (not errors and [problem])
    if unexplained:
        raise AssertionError(f"a schema-valid glossary body was refused: {unexplained}")
    return None


def _inexpressible(error: dict[str, Any]) -> bool:
    field = error.get("field") or ""
    return any(
        error.get("code") == code and (prefix is None or field.startswith(prefix))
        for code, prefix in INEXPRESSIBLE
    )


class Run:
    """What the run may refer to (seeded names), and what it did (filled by the schema's hooks)."""

    def __init__(self) -> None:
        self.glossary_ids: list[str] = []
        self.token_ids: list[str] = []
        self.calls: Counter[str] = Counter()
        self.successes: Counter[str] = Counter()


def _seed(client: TestClient, run: Run) -> None:
    for tenant, token in (("acme", ACME), ("globex", GLOBEX)):
        base = f"/v1/tenants/{tenant}/glossaries"
        r = client.post(
            base,
            files={"file": ("terms.csv", PRODUCT_CSV, "text/csv")},
            data={"name": "product", "is_default": "true"},
            headers=auth(token),
        )
        assert r.status_code == 201, r.text
        run.glossary_ids.append(r.json()["id"])
        r = client.post(base, json=LEGAL, headers=auth(token))
        assert r.status_code == 201, r.text
        run.glossary_ids.append(r.json()["id"])
        for name in SCRATCH:  # for DELETE, so that the others stay for the rest of the run
            r = client.post(base, json={**LEGAL, "name": name}, headers=auth(token))
            assert r.status_code == 201, r.text
    r = client.put(
        "/v1/tenants/acme/credentials/zai",
        json={"api_key": "0123abcd.s3cr3t-value-WXYZ"},
        headers=auth(ACME),
    )
    assert r.status_code == 200, r.text
    for name in ("ci", "deploy"):
        r = client.post("/v1/tokens", json={"name": name, "tenant_id": "acme"}, headers=auth(ADMIN))
        assert r.status_code == 201, r.text
        run.token_ids.append(r.json()["id"])


def admin_or_acme(case: schemathesis.Case, turn: int) -> str:
    """The admin token for /v1/tokens; elsewhere the admin and acme's token by turns."""
    if case.operation.path.startswith("/v1/tokens"):
        return ADMIN
    return ADMIN if turn % 2 else ACME


def _schema(
    settings: Settings,
    run: Run,
    token: Callable[[schemathesis.Case, int], str] = admin_or_acme,
    max_examples: int = MAX_EXAMPLES,
) -> schemathesis.BaseSchema:
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "continue-on-failure": True,
            # `schemathesis run --checks all`: every check, positive_data_acceptance included
            # (replaced for glossary bodies by `glossary_body_acceptance` below).
            "checks": {"enabled": True},
            "generation": {"mode": "all", "max-examples": max_examples, "database": "none"},
            "phases": {"stateful": {"enabled": False}, "examples": {"fill-missing": True}},
            "operations": [
                {
                    # A schema-valid body can still break glossary rules the JSON Schema cannot
                    # state (a parseable CSV/TSV/XLSX/TBX file, BCP 47 codes, unique terms, entry
                    # size in UTF-8 bytes): those answer a documented 422, not a 2xx.
                    "include-name": list(STATEFUL_BODY | PERIODS),
                    "checks": {"positive_data_acceptance": {"enabled": False}},
                },
                {
                    # Checked by `glossary_body_acceptance` instead (INEXPRESSIBLE above).
                    "include-name": list(GLOSSARY_CONTENT),
                    "checks": {"positive_data_acceptance": {"enabled": False}},
                },
            ],
        }
    )
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(settings), config=config)
    known: dict[str, st.SearchStrategy[Any]] = {
        "tenant": st.sampled_from(["acme", "globex"]),
        "glossary": st.sampled_from(["product", "legal", *run.glossary_ids]),
        "version": st.sampled_from([1, 2]),
        "token_id": st.sampled_from(run.token_ids),
    }

    @schema.hook
    def flatmap_case(context: Any, case: schemathesis.Case) -> st.SearchStrategy[schemathesis.Case]:
        # Valid path parameters come from the seeded names half the time; invalid ones stay.
        path = case.meta.components.get(ParameterLocation.PATH) if case.meta else None
        names = [n for n in case.path_parameters or {} if n in known]
        if case.method == "DELETE" and "glossary" in names:
            strategies = {**known, "glossary": st.sampled_from(SCRATCH)}
        else:
            strategies = known
        if not names or path is None or path.mode is not GenerationMode.POSITIVE:
            return st.just(case)

        def with_known(values: dict[str, Any]) -> schemathesis.Case:
            case.path_parameters = {**(case.path_parameters or {}), **values}
            return case

        seeded = st.fixed_dictionaries({n: strategies[n] for n in names}).map(with_known)
        return st.one_of(seeded, st.just(case))

    @schema.hook
    def after_call(context: Any, case: schemathesis.Case, response: schemathesis.Response) -> None:
        run.calls[case.operation.label] += 1
        if 200 <= response.status_code < 300:
            run.successes[case.operation.label] += 1

    @schema.auth(refresh_interval=None)
    class Tokens:
        """`token(case, turn)` picks each call's bearer token."""

        def __init__(self) -> None:
            self.turn = 0

        def get(self, case: schemathesis.Case, ctx: schemathesis.AuthContext) -> str:
            self.turn += 1
            return token(case, self.turn)

        def set(self, case: schemathesis.Case, data: str, ctx: schemathesis.AuthContext) -> None:
            case.headers = {**(case.headers or {}), **auth(data)}

    return schema


@pytest.fixture
def api_settings(pg_url: str, kafka_bootstrap_servers: str) -> Settings:
    return Settings(
        database_url=pg_url,
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        topic_glossary_events=f"glossary-events-{uuid.uuid4().hex[:8]}",
        api_admin_token=SecretStr(ADMIN),
        api_tenant_tokens={"acme": SecretStr(ACME), "globex": SecretStr(GLOBEX)},
        credentials_key=SecretStr(new_key()),
        truto_api_token=SecretStr("schemathesis-truto-token"),  # Truto connections work
    )


def _describe(label: str, check: Any) -> tuple[str, str]:
    failure, sample = check.failure_info.failure, check.failure_info.code_sample
    return f"{label} [{check.name}] {failure.title}", f"{failure.message}\n{sample[:600]}"


def execute(schema: schemathesis.BaseSchema) -> None:
    """Run every phase; fails with one example per operation, check and kind of failure."""
    failures: dict[str, str] = {}
    errors: list[str] = []
    finished: events.EngineFinished | None = None
    for event in engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished) and event.status == Status.FAILURE:
            for checks in event.recorder.checks.values():
                for check in checks:
                    if check.status == Status.FAILURE and check.failure_info is not None:
                        key, example = _describe(event.recorder.label, check)
                        failures.setdefault(key, example)
        elif isinstance(event, events.NonFatalError | events.FatalError):
            errors.append(f"{type(event).__name__}: {event}")
        elif isinstance(event, events.EngineFinished):
            finished = event

    assert not errors, "\n".join(errors)
    assert not failures, "\n\n".join(f"{k}\n{v}" for k, v in failures.items())
    assert finished is not None and finished.stop_reason == engine.StopReason.COMPLETED


def test_schemathesis_run_finds_no_5xx_and_conforms(api_settings: Settings) -> None:
    run = Run()
    with TestClient(create_app(api_settings)) as client:
        _seed(client, run)
    schema = _schema(api_settings, run)
    execute(schema)
    operations = {r.ok().label for r in schema.get_all_operations()}
    documented = create_app(api_settings).openapi()["paths"]
    assert operations == {f"{m.upper()} {p}" for p, item in documented.items() for m in item}
    assert len(operations) >= 20  # every route of the admin API, settings included
    # Operations with few distinct inputs (no parameters, a path only) end early.
    assert {op for op in operations if run.calls[op] < 5} == set(), run.calls
    assert run.calls.total() > 10 * MAX_EXAMPLES, run.calls
    assert {op for op in MUST_SUCCEED if run.successes[op] == 0} == set(), run.successes
    # The glossary body check ran on each operation that takes a body.
    assert set(BODIES_CHECKED) == GLOSSARY_CONTENT, BODIES_CHECKED
