from __future__ import annotations

import json

import pytest

from service.pipeline.contract.decode import Rejection, decode_request
from service.pipeline.contract.messages import TranslationRequestV1


def _raw(**fields: object) -> bytes:
    body: dict[str, object] = {
        "request_id": "r1",
        "tenant_id": "acme",
        "target_langs": ["de"],
        "text": "Hello",
    }
    body.update(fields)
    return json.dumps({k: v for k, v in body.items() if v is not None}).encode()


def decode(raw: bytes) -> TranslationRequestV1 | Rejection:
    return decode_request(raw, max_bytes=10_000, max_chars=1_000)


def test_valid_text_request() -> None:
    req = decode(_raw())
    assert isinstance(req, TranslationRequestV1)
    assert (req.source_lang, req.strategy, req.target_langs) == ("auto", "general", ["de"])


def test_valid_segments_request() -> None:
    req = decode(_raw(text=None, segments=[{"id": "a", "text": "x"}, {"id": "b", "text": "y"}]))
    assert isinstance(req, TranslationRequestV1)
    assert [s.id for s in req.segments or []] == ["a", "b"]


@pytest.mark.parametrize(
    ("raw", "reason", "needle"),
    [
        (b'{"request_id": ', "bad_json", "not JSON"),
        (b"\xff\xfe\x00", "not_utf8", "UTF-8"),
        (b"[1, 2]", "schema", "JSON object"),
        (_raw(target_langs=["xx"]), "schema", "target_langs"),
        (_raw(target_langs=[]), "schema", "target_langs"),
        (_raw(target_langs=["de", "de"]), "schema", "duplicates"),
        (_raw(source_lang="klingon"), "schema", "source_lang"),
        (_raw(strategy="fast"), "schema", "strategy"),
        (_raw(text=None), "schema", "exactly one"),
        (_raw(segments=[{"id": "a", "text": "x"}]), "schema", "exactly one"),
        (
            _raw(text=None, segments=[{"id": "a", "text": "x"}, {"id": "a", "text": "y"}]),
            "schema",
            "unique",
        ),
        (_raw(tenant_id="../etc"), "schema", "tenant_id"),
        (_raw(surprise=1), "schema", "surprise"),
        (_raw(text="x" * 1001), "too_large", "limit 1000"),
        (b" " * 10_001, "too_large", "limit 10000"),
    ],
)
def test_rejections_name_reason_and_place(raw: bytes, reason: str, needle: str) -> None:
    result = decode(raw)
    assert isinstance(result, Rejection)
    assert result.reason == reason
    assert needle in result.detail


# --- content hash: what makes a re-sent request_id the same request ---------------------------


def _hash(**fields: object) -> str:
    req = decode(_raw(**fields))
    assert isinstance(req, TranslationRequestV1)
    return req.content_hash()


def test_content_hash_ignores_metadata_defaults_and_target_order() -> None:
    base = _hash(target_langs=["de", "fr"])
    assert _hash(target_langs=["fr", "de"]) == base
    assert _hash(target_langs=["de", "fr"], metadata={"ticket": "L10N-7"}) == base
    assert _hash(target_langs=["de", "fr"], source_lang="auto", strategy="general") == base


@pytest.mark.parametrize(
    "change",
    [
        {"text": "Hello!"},
        {"target_langs": ["de", "it"]},
        {"source_lang": "en"},
        {"strategy": "paraphrase"},
        {"glossary": "legal"},
        {"instructions": "formal"},
        {"qa_policy": "fail"},
        {"text": None, "segments": [{"id": "a", "text": "Hello"}]},
    ],
)
def test_content_hash_changes_with_anything_that_can_change_a_result(
    change: dict[str, object],
) -> None:
    both: dict[str, object] = {"target_langs": ["de", "fr"]}
    assert _hash(**{**both, **change}) != _hash(**both)


def test_tenants_outside_request_tenants_are_unknown_when_it_is_set() -> None:
    known = frozenset({"acme", "globex"})
    got = decode_request(_raw(tenant_id="acmee"), max_bytes=10_000, max_chars=1_000, tenants=known)
    assert got == Rejection("tenant.unknown", "tenant_id 'acmee' is not one of REQUEST_TENANTS")
    served = decode_request(_raw(), max_bytes=10_000, max_chars=1_000, tenants=known)
    assert isinstance(served, TranslationRequestV1)
    anyone = decode_request(_raw(tenant_id="acmee"), max_bytes=10_000, max_chars=1_000)
    assert isinstance(anyone, TranslationRequestV1)
