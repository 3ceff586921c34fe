"""Usage and budgets over the real app and a real database (SQLite and PostgreSQL): a tenant's
usage by day and by pair, the admin view across tenants, the CSV export, clear 422s, and the
budget an admin sets and a tenant reads."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.config import Settings
from service.store import usage
from service.store.driver import open_database
from tests.integration.api.conftest import ACME, ADMIN, GLOBEX, auth

pytestmark = pytest.mark.postgres
TODAY = datetime.now(UTC).date()
# Two days of this month, so the default period (this month up to today) holds both.
EARLIER = TODAY.replace(day=1) if TODAY.day > 1 else TODAY


def completed(tenant: str, target: str, total: int, **extra: Any) -> dict[str, Any]:
    use = {"prompt_tokens": total // 2, "completion_tokens": total - total // 2}
    use |= {"total_tokens": total, "upstream_calls": 1, "source_chars": 10, **extra}
    return {
        "type": "translation.completed",
        "tenant_id": tenant,
        "source_lang": "en",
        "target_lang": target,
        "usage": use,
    }


def seed(settings: Settings, day: date, bodies: list[dict[str, Any]]) -> None:
    async def write() -> None:
        db = open_database(settings.database_url)
        await db.run(usage.add(db.dialect, usage.ledger_rows(bodies, day)))
        await db.close()

    asyncio.run(write())


@pytest.fixture
def seeded(client: TestClient, api_settings: Settings) -> TestClient:
    seed(api_settings, EARLIER, [completed("acme", "de", 100), completed("acme", "fr", 40)])
    seed(
        api_settings,
        TODAY,
        [completed("acme", "de", 10, estimate="characters"), completed("globex", "ja", 7)],
    )
    seed(api_settings, TODAY - timedelta(days=400), [completed("acme", "de", 999)])
    return client


def test_a_tenant_sees_its_usage_by_day_and_by_pair(seeded: TestClient) -> None:
    by_day = seeded.get("/v1/tenants/acme/usage", headers=auth(ACME)).json()
    assert (by_day["tenant_id"], by_day["group_by"]) == ("acme", "day")
    assert by_day["from"] == str(TODAY.replace(day=1)) and by_day["to"] == str(TODAY)
    assert by_day["totals"]["total_tokens"] == 150 and by_day["totals"]["translations"] == 3
    assert by_day["totals"]["character_estimates"] == 1
    if EARLIER != TODAY:
        assert [(r["day"], r["total_tokens"]) for r in by_day["rows"]] == [
            (str(EARLIER), 140),
            (str(TODAY), 10),
        ]
    assert all(r["tenant_id"] is None for r in by_day["rows"])
    by_pair = seeded.get(
        "/v1/tenants/acme/usage", params={"group_by": "pair"}, headers=auth(ADMIN)
    ).json()
    assert [(r["target_lang"], r["total_tokens"]) for r in by_pair["rows"]] == [
        ("de", 110),
        ("fr", 40),
    ]
    today_only = seeded.get(
        "/v1/tenants/acme/usage",
        params={"from": str(TODAY), "to": str(TODAY)},
        headers=auth(ACME),
    ).json()
    assert today_only["totals"]["total_tokens"] == (150 if EARLIER == TODAY else 10)


def test_the_admin_view_spans_tenants_and_tenants_see_only_their_own(seeded: TestClient) -> None:
    view = seeded.get("/v1/usage", headers=auth(ADMIN)).json()
    assert view["tenant_id"] is None and view["group_by"] == "tenant"
    assert [(r["tenant_id"], r["total_tokens"]) for r in view["rows"]] == [
        ("acme", 150),
        ("globex", 7),
    ]
    by_pair = seeded.get("/v1/usage", params={"group_by": "pair"}, headers=auth(ADMIN)).json()
    assert {(r["tenant_id"], r["target_lang"]) for r in by_pair["rows"]} == {
        ("acme", "de"),
        ("acme", "fr"),
        ("globex", "ja"),
    }
    assert seeded.get("/v1/usage", headers=auth(ACME)).status_code == 403
    assert seeded.get("/v1/tenants/globex/usage", headers=auth(ACME)).status_code == 404
    assert seeded.get("/v1/usage/export", headers=auth(GLOBEX)).status_code == 403
    assert seeded.get("/v1/tenants/acme/usage").status_code == 401


def test_the_csv_export_has_every_ledger_row_of_the_period(seeded: TestClient) -> None:
    r = seeded.get("/v1/usage/export", headers=auth(ADMIN))
    assert r.status_code == 200 and r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.headers["content-disposition"].startswith('attachment; filename="usage-all-')
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert list(rows[0])[:4] == ["tenant_id", "day", "source_lang", "target_lang"]
    assert sum(int(row["total_tokens"]) for row in rows) == 157
    assert {row["tenant_id"] for row in rows} == {"acme", "globex"}
    own = seeded.get("/v1/tenants/acme/usage/export", headers=auth(ACME))
    assert {row["tenant_id"] for row in csv.DictReader(io.StringIO(own.text))} == {"acme"}
    one = seeded.get("/v1/usage/export", params={"tenant": "globex"}, headers=auth(ADMIN))
    assert [row["target_lang"] for row in csv.DictReader(io.StringIO(one.text))] == ["ja"]


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2026-12-05", "to": "2026-12-01"},
        {"from": "2024-01-01", "to": "2026-01-01"},
        {"from": "yesterday"},
        {"group_by": "week"},
        {"to": "2026-02-30"},
    ],
)
def test_bad_periods_and_groupings_are_422(client: TestClient, params: dict[str, str]) -> None:
    r = client.get("/v1/tenants/acme/usage", params=params, headers=auth(ACME))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")


def test_an_admin_sets_a_budget_and_the_tenant_reads_its_standing(seeded: TestClient) -> None:
    url = "/v1/tenants/acme/budget"
    none = seeded.get(url, headers=auth(ACME)).json()
    assert (none["monthly_tokens"], none["spent_tokens"], none["spent_ratio"]) == (None, 150, None)
    assert seeded.put(url, json={"monthly_tokens": 200}, headers=auth(ACME)).status_code == 403
    set_ = seeded.put(url, json={"monthly_tokens": 200}, headers=auth(ADMIN))
    assert set_.status_code == 200, set_.text
    assert set_.json()["month"] == f"{TODAY:%Y-%m}"
    shown = seeded.get(url, headers=auth(ACME)).json()
    assert (shown["monthly_tokens"], shown["spent_tokens"], shown["reserved_tokens"]) == (
        200,
        150,
        0,
    )
    assert (shown["remaining_tokens"], shown["spent_ratio"]) == (50, 0.75)
    assert seeded.get("/v1/tenants/acme/budget", headers=auth(GLOBEX)).status_code == 404
    assert seeded.delete(url, headers=auth(ACME)).status_code == 403
    assert seeded.delete(url, headers=auth(ADMIN)).status_code == 204
    assert seeded.delete(url, headers=auth(ADMIN)).status_code == 404
    assert seeded.get(url, headers=auth(ACME)).json()["monthly_tokens"] is None


@pytest.mark.parametrize(
    "body",
    [{"monthly_tokens": 0}, {"monthly_tokens": "100"}, {"monthly_tokens": 10**16}, {}, {"x": 1}],
)
def test_a_bad_budget_is_422(client: TestClient, body: dict[str, Any]) -> None:
    r = client.put("/v1/tenants/acme/budget", json=body, headers=auth(ADMIN))
    assert r.status_code == 422, r.text
