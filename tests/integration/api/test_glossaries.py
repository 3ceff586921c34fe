"""The glossary API over the real app, a real database (both backends) and a real Kafka broker."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from fastapi.testclient import TestClient

from service.config import Settings
from service.glossary.limits import GlossaryLimits
from service.glossary.parse import parse_glossary
from tests.integration.api.conftest import ACME, ADMIN, GLOBEX, auth

pytestmark = [pytest.mark.postgres, pytest.mark.kafka]
ROOT = Path(__file__).resolve().parents[3]
PRODUCT_CSV = (ROOT / "glossaries/acme/product-terms.csv").read_bytes()
BASE = "/v1/tenants/acme/glossaries"


def upload(client: TestClient, name: str, content: bytes = PRODUCT_CSV, **fields: str) -> Any:
    files = {"file": ("terms.csv", content, "text/csv")}
    return client.post(BASE, files=files, data={"name": name, **fields}, headers=auth(ACME))


def json_glossary(name: str, entries: list[dict[str, Any]], source: str = "en") -> dict[str, Any]:
    return {"name": name, "source_lang": source, "entries": entries}


def test_create_from_file_then_read_everything(client: TestClient) -> None:
    r = upload(client, "product", is_default="true")
    assert r.status_code == 201, r.text
    g = r.json()
    assert (g["name"], g["current_version"], g["is_default"], g["changed"]) == (
        "product",
        1,
        True,
        True,
    )
    expected = parse_glossary(
        PRODUCT_CSV,
        filename="x.csv",
        content_type=None,
        source_lang=None,
        target_lang=None,
        limits=GlossaryLimits(),
    )
    assert g["version"]["content_hash"] == expected.content_hash()
    assert g["version"]["entry_count"] == len(expected.entries)
    assert {"en", "de", "fr", "ja"} <= set(g["version"]["languages"])

    assert [x["name"] for x in client.get(BASE, headers=auth(ACME)).json()] == ["product"]
    by_id = client.get(f"{BASE}/{g['id']}", headers=auth(ACME)).json()
    assert by_id["version"]["content_hash"] == g["version"]["content_hash"]
    versions = client.get(f"{BASE}/product/versions", headers=auth(ACME)).json()
    assert [v["version"] for v in versions] == [1]

    page1 = client.get(f"{BASE}/product/versions/1/entries?limit=3", headers=auth(ACME)).json()
    page2 = client.get(
        f"{BASE}/product/versions/1/entries?offset=3&limit=3", headers=auth(ACME)
    ).json()
    assert page1["total"] == len(expected.entries) and len(page1["items"]) == 3
    assert {e["term"] for e in page1["items"]}.isdisjoint({e["term"] for e in page2["items"]})
    dashboard = next(
        e
        for e in client.get(
            f"{BASE}/product/versions/1/entries?limit=1000", headers=auth(ACME)
        ).json()["items"]
        if e["term"] == "dashboard"
    )
    assert dashboard["translations"]["de"] == "Übersicht"


@pytest.mark.parametrize(("fmt", "filename"), [("csv", "x.csv"), ("tbx", "x.tbx")])
def test_export_round_trips(client: TestClient, fmt: str, filename: str) -> None:
    created = upload(client, "product").json()
    r = client.get(f"{BASE}/product/export?format={fmt}", headers=auth(ACME))
    assert r.status_code == 200
    assert "attachment" in r.headers["content-disposition"]
    back = parse_glossary(
        r.content,
        filename=filename,
        content_type=None,
        source_lang=None,
        target_lang=None,
        limits=GlossaryLimits(),
    )
    assert back.content_hash() == created["version"]["content_hash"]


def test_create_from_json_and_conflicts(client: TestClient) -> None:
    body = json_glossary("brand", [{"term": "Acme Cloud", "do_not_translate": True}])
    r = client.post(BASE, json=body, headers=auth(ACME))
    assert r.status_code == 201, r.text
    assert client.post(BASE, json=body, headers=auth(ACME)).status_code == 409
    r = client.post(BASE, json={**body, "name": None}, headers=auth(ACME))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.name"


def test_invalid_files_are_422_with_row_and_column(client: TestClient) -> None:
    bad = b"en,de\ninvoice,Rechnung\n,leer\ninvoice,Faktura\n"
    r = upload(client, "bad", bad)
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    problems = r.json()["errors"]
    codes = {(p["code"], p["row"]) for p in problems}
    assert ("empty_term", 3) in codes
    assert any(code == "duplicate_term" for code, _ in codes)
    assert client.get(f"{BASE}/bad", headers=auth(ACME)).status_code == 404

    r = client.post(
        BASE,
        json=json_glossary("x", [{"term": "a", "translations": {"xx": "b"}}]),
        headers=auth(ACME),
    )
    assert r.status_code == 422, r.text
    (error,) = r.json()["errors"]  # the schema's rule, checked by the body's model
    assert error["field"] == "body.entries.0.translations"
    assert "unknown target language(s) ['xx']" in error["message"]
    r = client.post(BASE, content=b"x", headers={**auth(ACME), "content-type": "text/plain"})
    assert r.status_code == 415


def test_hostile_tbx_is_rejected(client: TestClient) -> None:
    xxe = (ROOT / "tests/data/glossary/xxe.tbx").read_bytes()
    r = client.post(
        BASE,
        files={"file": ("x.tbx", xxe, "application/xml")},
        data={"name": "x"},
        headers=auth(ACME),
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["code"] == "unsafe_xml"


def test_versions_replace_patch_delete_revive(client: TestClient) -> None:
    first = upload(client, "product").json()
    same = client.put(
        f"{BASE}/product", files={"file": ("t.csv", PRODUCT_CSV, "text/csv")}, headers=auth(ACME)
    )
    assert same.status_code == 200 and same.json()["changed"] is False
    assert same.json()["current_version"] == 1

    two = client.put(
        f"{BASE}/product",
        json=json_glossary(None, [{"term": "invoice", "translations": {"de": "Faktura"}}]),  # type: ignore[arg-type]
        headers=auth(ACME),
    ).json()
    assert (two["current_version"], two["changed"], two["version"]["entry_count"]) == (2, True, 1)

    patch = {
        "upsert": [{"term": "receipt", "translations": {"de": "Beleg"}}],
        "delete": ["invoice"],
    }
    three = client.patch(f"{BASE}/product/entries", json=patch, headers=auth(ACME))
    assert three.status_code == 200, three.text
    entries = client.get(f"{BASE}/product/versions/3/entries", headers=auth(ACME)).json()["items"]
    assert [(e["term"], e["translations"]) for e in entries] == [("receipt", {"de": "Beleg"})]
    r = client.patch(f"{BASE}/product/entries", json={"delete": ["nope"]}, headers=auth(ACME))
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "body.delete.0"
    # Old versions stay readable.
    assert (
        client.get(f"{BASE}/product/versions/1/entries", headers=auth(ACME)).json()["total"]
        == first["version"]["entry_count"]
    )

    assert client.delete(f"{BASE}/product", headers=auth(ACME)).status_code == 204
    assert client.get(f"{BASE}/product", headers=auth(ACME)).status_code == 404
    assert client.get(BASE, headers=auth(ACME)).json() == []
    revived = upload(client, "product").json()
    assert revived["id"] == first["id"] and revived["current_version"] == 4


def test_other_tenants_see_404_and_admin_sees_all(client: TestClient) -> None:
    created = upload(client, "product").json()
    for path in ("", "/versions", "/versions/1/entries", "/export"):
        for ref in ("product", created["id"]):
            assert client.get(f"{BASE}/{ref}{path}", headers=auth(GLOBEX)).status_code == 404
    assert (
        client.get(
            f"/v1/tenants/globex/glossaries/{created['id']}", headers=auth(GLOBEX)
        ).status_code
        == 404
    )
    assert client.delete(f"{BASE}/product", headers=auth(GLOBEX)).status_code == 404
    assert client.get(f"{BASE}/product", headers=auth(ADMIN)).status_code == 200
    assert client.get(f"{BASE}/product").status_code == 401


async def _events(bootstrap: str, topic: str, count: int) -> list[dict[str, Any]]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        group_id=f"t-{uuid.uuid4().hex[:6]}",
    )
    await consumer.start()
    out: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(30):
            async for record in consumer:
                out.append({"body": json.loads(record.value), "headers": dict(record.headers)})
                if len(out) == count:
                    break
    finally:
        await consumer.stop()
    return out


def test_every_change_publishes_glossary_updated(
    client: TestClient, api_settings: Settings
) -> None:
    g = upload(client, "product").json()
    upload_again = client.put(
        f"{BASE}/product", files={"file": ("t.csv", PRODUCT_CSV, "text/csv")}, headers=auth(ACME)
    )
    assert upload_again.json()["changed"] is False  # no change, no event
    client.patch(f"{BASE}/product/entries", json={"delete": ["invoice"]}, headers=auth(ACME))
    client.delete(f"{BASE}/product", headers=auth(ACME))
    events = asyncio.run(
        _events(api_settings.kafka_bootstrap_servers, api_settings.topic_glossary_events, 3)
    )
    bodies = [e["body"] for e in events]
    assert [(b["version"], b["deleted"]) for b in bodies] == [(1, False), (2, False), (2, True)]
    assert bodies[0]["content_hash"] == g["version"]["content_hash"]
    assert all(b["tenant_id"] == "acme" and b["glossary_id"] == g["id"] for b in bodies)
    assert events[0]["headers"]["ce_type"] == b"glossary.updated"
