"""Classification of (HTTP status, parsed body) into typed errors: a pure table."""

from __future__ import annotations

import pytest

from service.zai import errors as e
from service.zai.errors import classify, finish_reason_error, normalise_code, parse_envelope


def _body(code: object, message: str = "upstream says no") -> dict[str, object]:
    return {"error": {"code": code, "message": message}}


RETRYABLE_CODES = [
    ("1302", 429, e.ZaiRateLimited),
    ("1303", 429, e.ZaiRateLimited),
    ("1305", 429, e.ZaiRateLimited),
    ("1234", 500, e.ZaiServerError),
    ("1230", 500, e.ZaiServerError),
    ("1120", 429, e.ZaiAccountError),
    ("500", 500, e.ZaiServerError),
]

FAIL_FAST_CODES = [
    ("1113", 429, e.ZaiQuotaExceeded),
    ("1304", 429, e.ZaiQuotaExceeded),
    ("1308", 429, e.ZaiQuotaExceeded),
    ("1301", 400, e.ZaiContentFiltered),
    *[(str(c), 400, e.ZaiBadRequest) for c in range(1210, 1216)],
    *[(str(c), 401, e.ZaiAuthError) for c in range(1000, 1005)],
    ("1110", 429, e.ZaiAccountError),
    ("1111", 429, e.ZaiAccountError),
    ("1112", 429, e.ZaiAccountError),
    ("1121", 429, e.ZaiAccountError),
    ("1100", 400, e.ZaiAccountError),
    ("1200", 400, e.ZaiBadRequest),
    ("1231", 400, e.ZaiBadRequest),
    ("1220", 403, e.ZaiPermissionDenied),
    ("1221", 403, e.ZaiPermissionDenied),
    ("1222", 403, e.ZaiPermissionDenied),
    ("1300", 400, e.ZaiPermissionDenied),
    ("1261", 400, e.ZaiPromptTooLong),
]


@pytest.mark.parametrize(("code", "status", "cls"), RETRYABLE_CODES)
def test_retryable_codes(code: str, status: int, cls: type[e.ZaiError]) -> None:
    err = classify(status, _body(code))
    assert type(err) is cls
    assert err.retryable is True
    assert (err.status, err.code, err.message) == (status, code, "upstream says no")


@pytest.mark.parametrize(("code", "status", "cls"), FAIL_FAST_CODES)
def test_fail_fast_codes(code: str, status: int, cls: type[e.ZaiError]) -> None:
    err = classify(status, _body(code))
    assert type(err) is cls
    assert err.retryable is False
    assert err.code == code


@pytest.mark.parametrize("status", [500, 502, 503, 504])
@pytest.mark.parametrize("code", ["1113", "1210", "1002", "1301"])
def test_fail_fast_code_wins_over_5xx(status: int, code: str) -> None:
    assert classify(status, _body(code)).retryable is False


@pytest.mark.parametrize("status", [500, 502, 503, 504, 599])
@pytest.mark.parametrize("body", [None, {}, {"error": {"code": "9999"}}, "<html>"])
def test_5xx_without_fail_fast_code_is_retryable(status: int, body: object) -> None:
    err = classify(status, body)
    assert isinstance(err, e.ZaiServerError)
    assert err.retryable is True


@pytest.mark.parametrize("body", [None, {}, {"error": {"code": "9999", "message": "?"}}])
def test_429_is_not_retryable_without_a_retryable_code(body: object) -> None:
    err = classify(429, body)
    assert isinstance(err, e.ZaiRateLimited)
    assert err.retryable is False


@pytest.mark.parametrize(
    ("status", "route", "cls"),
    [
        (400, "agents", e.ZaiBadRequest),
        (401, "agents", e.ZaiAuthError),
        (403, "agents", e.ZaiPermissionDenied),
        (434, "files_upload", e.ZaiPermissionDenied),
        (404, "agents", e.ZaiBadRequest),
        (404, "files_delete", e.ZaiFileNotFound),
        (409, "agents", e.ZaiBadRequest),
        (413, "files_upload", e.ZaiBadRequest),
        (435, "files_upload", e.ZaiBadRequest),
        (422, "agents", e.ZaiBadRequest),
    ],
)
def test_other_4xx_fail_fast_by_status(status: int, route: str, cls: type[e.ZaiError]) -> None:
    err = classify(status, None, route=route)
    assert type(err) is cls
    assert err.retryable is False


@pytest.mark.parametrize("code", ["434", "9999", None])
def test_434_no_permission_for_the_file_api_is_permission_denied(code: str | None) -> None:
    # zai-api.md §3/§8.2: 434 is "no API permission" (the file API is in beta); its business
    # code is not documented, so the status decides for any code we do not know.
    err = classify(434, _body(code) if code else None, route="files_upload")
    assert type(err) is e.ZaiPermissionDenied
    assert (err.error_code, err.retryable) == ("zai.permission_denied", False)


def test_408_is_a_retryable_timeout() -> None:
    err = classify(408, None)
    assert isinstance(err, e.ZaiTimeout)
    assert err.retryable


def test_error_body_on_2xx_with_unknown_code_is_not_retried() -> None:
    err = classify(200, {"status": "failed", "error": {"code": "7777", "message": "odd"}})
    assert isinstance(err, e.ZaiServerError)
    assert err.retryable is False


@pytest.mark.parametrize(
    "message",
    [
        "Invalid glossary: file-123 does not exist",
        "The messages parameter is illegal.",  # the wording says nothing of the file
        "参数非法",
        "",
    ],
)
def test_1214_on_a_request_with_a_file_id_is_file_not_found_whatever_the_message(
    message: str,
) -> None:
    refused = classify(400, {**_body("1214", message), "request_id": "up-1"})
    err = e.refused_file(refused, "file-123")
    assert type(err) is e.ZaiFileNotFound
    assert isinstance(err, e.ZaiBadRequest)  # callers catching bad requests still see it
    assert (err.error_code, err.code, err.status, err.message) == (
        "zai.file_not_found",
        "1214",
        400,
        message or err.message,
    )
    assert err.upstream_request_id == "up-1" and err.retryable is False


@pytest.mark.parametrize(
    "message",
    [
        "Invalid glossary: file-123 does not exist",  # names a file, but none was sent
        "glossary file 'file-1' is not a term list: no tab",
        "File not found",
        "",
    ],
)
def test_1214_without_a_file_id_is_a_plain_bad_request(message: str) -> None:
    refused = classify(400, _body("1214", message))
    assert type(refused) is e.ZaiBadRequest
    assert e.refused_file(refused, None) is refused


@pytest.mark.parametrize("code", ["1210", "1213", "1301", "1302", "500"])
def test_other_codes_on_a_request_with_a_file_id_are_left_alone(code: str) -> None:
    refused = classify(400, _body(code, "glossary file not found"))
    assert e.refused_file(refused, "file-123") is refused


def test_simulator_messages() -> None:
    deleted = _body("1214", "File not found: 'file-9'")
    assert type(e.refused_file(classify(404, deleted), "file-9")) is e.ZaiFileNotFound
    assert type(classify(404, None, route="files_delete")) is e.ZaiFileNotFound
    task = _body("1214", "Task not found: async_id 'x'")
    assert type(classify(404, task, route="async_result")) is e.ZaiBadRequest


def test_1210_mentioning_a_file_is_still_bad_request() -> None:
    assert type(classify(400, _body("1210", "file too big"))) is e.ZaiBadRequest


@pytest.mark.parametrize(
    ("code", "quota"), [("1113", "balance"), ("1304", "daily"), ("1308", "cap")]
)
def test_quota_kind(code: str, quota: str) -> None:
    err = classify(429, _body(code))
    assert isinstance(err, e.ZaiQuotaExceeded)
    assert err.quota == quota


# --- envelope variants --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"error": {"code": "1302", "message": "Rate limit"}}, ("1302", "Rate limit", None)),
        (
            {"error": {"code": "1302", "message": "m"}, "request_id": "2026abc"},
            ("1302", "m", "2026abc"),
        ),
        ({"error": {"code": 1302, "message": "m"}}, ("1302", "m", None)),
        ({"code": "1210", "message": "flat"}, ("1210", "flat", None)),
        ({"code": 1210, "message": "flat int"}, ("1210", "flat int", None)),
        ({"code": 1210.0, "msg": "java msg"}, ("1210", "java msg", None)),
        ({"error": "text error", "code": "1214"}, ("1214", "text error", None)),
        ({"error": {"code": " 1113 ", "msg": "nested msg"}}, ("1113", "nested msg", None)),
        ({"error": {"message": "no code"}, "code": "1303"}, ("1303", "no code", None)),
        ({"error": {"code": "1302", "message": "", "request_id": "r1"}}, ("1302", "", "r1")),
        ({}, (None, "", None)),
        (None, (None, "", None)),
        ([1, 2], (None, "", None)),
        ("plain text", (None, "", None)),
        ({"error": {"code": True}}, (None, "", None)),
        ({"error": {"code": ""}}, (None, "", None)),
        ({"error": {"code": None}, "code": 500}, ("500", "", None)),
    ],
)
def test_parse_envelope_variants(body: object, expected: tuple[object, ...]) -> None:
    assert parse_envelope(body) == expected


def test_nested_code_wins_over_top_level() -> None:
    assert parse_envelope({"error": {"code": "1302"}, "code": "1210"})[0] == "1302"


def test_classify_keeps_upstream_request_id() -> None:
    err = classify(429, {"error": {"code": "1302", "message": "m"}, "request_id": "up-1"})
    assert err.upstream_request_id == "up-1"


def test_flat_envelope_classified_like_nested() -> None:
    assert type(classify(429, {"code": 1113, "msg": "broke"})) is e.ZaiQuotaExceeded


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1302, "1302"), ("1302", "1302"), (1302.0, "1302"), (1.5, None), (False, None), ("", None)],
)
def test_normalise_code(value: object, expected: str | None) -> None:
    assert normalise_code(value) == expected


# --- finish reasons -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "cls", "retryable", "error_code"),
    [
        ("sensitive", e.ZaiContentFiltered, False, "zai.content_filtered"),
        ("length", e.ZaiTruncated, False, "zai.truncated"),
        ("network_error", e.ZaiInferenceFailed, True, "zai.inference_failed"),
        ("tool_calls", e.ZaiInferenceFailed, False, "zai.inference_failed"),
        (None, e.ZaiInferenceFailed, False, "zai.inference_failed"),
    ],
)
def test_finish_reason_errors(
    reason: str | None, cls: type[e.ZaiError], retryable: bool, error_code: str
) -> None:
    err = finish_reason_error(reason)
    assert type(err) is cls
    assert err.retryable is retryable
    assert err.error_code == error_code
    assert err.finish_reason == reason
    assert err.code is None


# --- the error objects --------------------------------------------------------------------

ALL_ERRORS = [
    e.ZaiError,
    e.ZaiRateLimited,
    e.ZaiQuotaExceeded,
    e.ZaiAuthError,
    e.ZaiAccountError,
    e.ZaiPermissionDenied,
    e.ZaiBadRequest,
    e.ZaiInvalidRequest,
    e.ZaiFileNotFound,
    e.ZaiPromptTooLong,
    e.ZaiContentFiltered,
    e.ZaiTruncated,
    e.ZaiInferenceFailed,
    e.ZaiServerError,
    e.ZaiTimeout,
    e.ZaiConnectionError,
    e.ZaiMalformedResponse,
    e.ZaiDeadlineExceeded,
]


def test_error_codes_are_unique_and_namespaced() -> None:
    codes = [cls.error_code for cls in ALL_ERRORS]
    assert len(set(codes)) == len(codes)
    assert all(code.startswith("zai.") for code in codes)


@pytest.mark.parametrize("cls", ALL_ERRORS)
def test_docstring_is_the_default_message(cls: type[e.ZaiError]) -> None:
    err = cls()
    assert err.message == (cls.__doc__ or "").strip()
    assert err.message
    assert str(err).startswith(f"{cls.error_code}: {err.message}")


def test_str_and_repr_carry_the_context() -> None:
    err = e.ZaiRateLimited(
        "slow down", status=429, code="1302", retryable=True, request_id="rid-1", async_id="a1"
    )
    assert (
        str(err)
        == "zai.rate_limited: slow down [status=429 code=1302 request_id=rid-1 async_id=a1]"
    )
    assert "ZaiRateLimited('slow down'" in repr(err)
    assert "retryable=True" in repr(err)


def test_explicit_retryable_overrides_default() -> None:
    assert e.ZaiServerError(retryable=False).retryable is False
    assert e.ZaiBadRequest(retryable=True).retryable is True


def test_redact_removes_secret_from_message() -> None:
    err = e.ZaiAuthError("bad key abc.def given")
    e.redact(err, "abc.def")
    assert "abc.def" not in str(err)
    assert "abc.def" not in repr(err)
    assert err.args == ("bad key [redacted] given",)
