"""The Z.ai simulator over real HTTP: every route, fault, auth rule, file limit and the clock."""

from __future__ import annotations

import hashlib
import json
import logging
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from service.sim.testing import SimulatorHandle

KEY = "sim-key.secret"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture
def http(sim: SimulatorHandle) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.base_url, headers=AUTH, timeout=5.0) as client:
        yield client


def agent_body(text: str = "Open the valve", **variables: Any) -> dict[str, Any]:
    return {
        "agent_id": "general_translation",
        "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}],
        "custom_variables": {"source_lang": "en", "target_lang": "de", **variables},
    }


def translate(http: httpx.Client, text: str = "Open the valve", **variables: Any) -> httpx.Response:
    return http.post("/api/v1/agents", json=agent_body(text, **variables))


def reply_text(reply: dict[str, Any]) -> str:
    """The text of a sync reply (`messages`) or of an async result (`message`, an array)."""
    choice = reply["choices"][0]
    if "messages" in choice:
        text: str = choice["messages"][0]["content"]["text"]
        return text
    (message,) = choice["message"]
    return "".join(part["text"] for part in message["content"])


def upload(
    http: httpx.Client,
    name: str = "g.txt",
    data: bytes = b"valve\tVentil\n",
    purpose: str = "agent",
) -> httpx.Response:
    files = {"file": (name, data, "application/octet-stream")}
    return http.post("/api/paas/v4/files", data={"purpose": purpose}, files=files)


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body


# --- agents ---


def test_sync_translation_reply(http: httpx.Client) -> None:
    response = translate(http, strategy="two_step")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    reply = response.json()
    assert reply["status"] == "success" and reply["agent_id"] == "general_translation"
    assert reply["id"][:14].isdigit()
    choice = reply["choices"][0]
    assert choice["index"] == 0 and choice["finish_reason"] == "stop"
    assert choice["messages"] == [
        {"role": "assistant", "content": {"type": "text", "text": "[de] Open the valve"}}
    ]
    assert "message" not in choice  # only the SDK alias adds it
    usage = reply["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["total_calls"] == 2


def test_sdk_alias_route_adds_the_message_object(http: httpx.Client) -> None:
    reply = http.post("/api/paas/v4/v1/agents", json=agent_body()).json()
    choice = reply["choices"][0]
    assert choice["message"] == choice["messages"][0]


def test_glossary_from_an_uploaded_file_is_applied(
    sim: SimulatorHandle, http: httpx.Client
) -> None:
    file_id = upload(
        http, "g.txt", b"en,de\nvalve,Ventil\nsafety valve,Sicherheitsventil\n"
    ).json()["id"]
    reply = translate(http, "Check the Safety Valve and the valve.", glossary=file_id).json()
    assert reply_text(reply) == "[de] Check the Sicherheitsventil and the Ventil."
    assert sim.counters()["glossary_applied"] == 1
    assert sim.files()[0]["terms"] == [["valve", "Ventil"], ["safety valve", "Sicherheitsventil"]]


def test_unknown_glossary_is_400_1214_or_ignored_when_configured(
    sim: SimulatorHandle, http: httpx.Client
) -> None:
    assert_error(translate(http, glossary="file-nope"), 400, "1214")
    sim.configure(unknown_glossary="ignore")
    assert reply_text(translate(http, glossary="file-nope").json()) == "[de] Open the valve"


def test_a_glossary_file_that_is_not_a_term_list_is_400_1214(http: httpx.Client) -> None:
    file_id = upload(http, "manual.pdf", b"%PDF-1.7 ...").json()["id"]
    body = assert_error(translate(http, glossary=file_id), 400, "1214")
    assert "not a term list" in body["error"]["message"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (agent_body() | {"agent_id": "other_agent"}, "1214"),
        (agent_body() | {"messages": []}, "1214"),
        (
            agent_body() | {"messages": [{"role": "user", "content": [{"type": "image_url"}]}]},
            "1214",
        ),
        (agent_body(target_lang="klingon"), "1214"),
        (agent_body(source_lang="xx"), "1214"),
        (agent_body(strategy="magic"), "1214"),
    ],
)
def test_validation_errors(http: httpx.Client, body: dict[str, Any], code: str) -> None:
    response = http.post("/api/v1/agents", json=body)
    assert assert_error(response, 400, code)["request_id"][:14].isdigit()


def test_a_body_that_is_not_json_is_400_1210(http: httpx.Client) -> None:
    response = http.post(
        "/api/v1/agents", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert_error(response, 400, "1210")


def test_unknown_path_is_404(http: httpx.Client) -> None:
    assert_error(http.get("/api/v1/nothing"), 404, "1222")


def test_latency_is_applied(sim: SimulatorHandle, http: httpx.Client) -> None:
    sim.configure(latency_ms=150)
    started = time.monotonic()
    assert translate(http).status_code == 200
    assert time.monotonic() - started >= 0.15


# --- auth ---


def test_missing_or_non_bearer_authorization_is_401_1001(sim: SimulatorHandle) -> None:
    with httpx.Client(base_url=sim.base_url) as anonymous:
        assert_error(anonymous.post("/api/v1/agents", json=agent_body()), 401, "1001")
        basic = {"Authorization": "Basic abc"}
        assert_error(anonymous.get("/api/paas/v4/files", headers=basic), 401, "1001")
        empty = {"Authorization": "Bearer"}
        assert_error(anonymous.get("/api/paas/v4/files", headers=empty), 401, "1001")


def test_any_key_works_until_keys_are_configured(sim: SimulatorHandle, http: httpx.Client) -> None:
    assert translate(http).status_code == 200
    config = sim.configure(api_keys=["other.key"])
    assert config["api_keys_count"] == 1 and "other.key" not in json.dumps(config)
    assert_error(translate(http), 401, "1002")
    sim.configure(api_keys=["other.key", KEY])
    assert translate(http).status_code == 200


def test_counters_hash_keys_and_count_every_route(sim: SimulatorHandle, http: httpx.Client) -> None:
    translate(http)
    file_id = upload(http).json()["id"]
    http.get("/api/paas/v4/files")
    http.delete(f"/api/paas/v4/files/{file_id}")
    http.post(
        "/api/v1/agents/async-result", json={"agent_id": "general_translation", "async_id": "x"}
    )
    tokenize = {"model": "glm-4.6", "messages": [{"role": "user", "content": "x"}]}
    http.post("/api/paas/v4/tokenizer", json=tokenize)
    counters = sim.counters()
    assert counters["calls"] == {
        "agents": 1,
        "async_result": 1,
        "files_upload": 1,
        "files_list": 1,
        "files_delete": 1,
        "tokenizer": 1,
    }
    assert counters["by_key"] == {hashlib.sha256(KEY.encode()).hexdigest()[:12]: 6}
    assert KEY not in json.dumps(counters)
    assert (counters["uploads"], counters["deletes"], counters["files"]) == (1, 1, 0)
    assert counters["status"] == {"200": 5, "404": 1}


# --- faults ---

ERROR_FAULTS = [
    ("429_1302", 429, "1302"),
    ("429_1303", 429, "1303"),
    ("429_1305", 429, "1305"),
    ("429_1113", 429, "1113"),
    ("429_1308", 429, "1308"),
    ("429_1304", 429, "1304"),
    ("400_1210", 400, "1210"),
    ("400_1214", 400, "1214"),
    ("400_1301", 400, "1301"),
    ("401_1002", 401, "1002"),
    ("434", 434, "434"),
    ("500", 500, "500"),
    ("503", 503, "503"),
    ("1234", 500, "1234"),
]


@pytest.mark.parametrize(("fault", "status", "code"), ERROR_FAULTS)
def test_error_faults_then_recovery(
    sim: SimulatorHandle, http: httpx.Client, fault: str, status: int, code: str
) -> None:
    sim.script("agents", [fault, "ok"])
    assert_error(translate(http), status, code)
    assert translate(http).status_code == 200
    assert translate(http).status_code == 200  # script exhausted
    assert sim.counters()["faults_injected"] == {fault: 1}


def test_fault_messages_carry_a_reset_time_or_an_error_id(
    sim: SimulatorHandle, http: httpx.Client
) -> None:
    sim.script("agents", ["429_1308", "1234"])
    assert "reset at 20" in translate(http).json()["error"]["message"]
    assert "Network error, error id: " in translate(http).json()["error"]["message"]


def test_retry_after_variant_sends_the_header(sim: SimulatorHandle, http: httpx.Client) -> None:
    sim.script("agents", ["429_1302_retry_after_2", "429_1302"])
    first, second = translate(http), translate(http)
    assert first.headers["retry-after"] == "2"
    assert "retry-after" not in second.headers


def test_slow_exceeds_a_read_timeout(sim: SimulatorHandle, http: httpx.Client) -> None:
    sim.configure(slow_seconds=1.0)
    sim.script("agents", ["slow"])
    with pytest.raises(httpx.ReadTimeout):
        http.post("/api/v1/agents", json=agent_body(), timeout=0.2)
    assert translate(http).status_code == 200


def test_drop_closes_the_connection_without_a_response(
    sim: SimulatorHandle, http: httpx.Client
) -> None:
    sim.script("agents", ["drop"])
    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        translate(http)
    assert translate(http).status_code == 200


def test_malformed_json_is_a_200_with_a_truncated_body(
    sim: SimulatorHandle, http: httpx.Client
) -> None:
    sim.script("agents", ["malformed_json"])
    response = translate(http)
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        response.json()


@pytest.mark.parametrize("reason", ["sensitive", "length", "network_error"])
def test_finish_reason_faults(sim: SimulatorHandle, http: httpx.Client, reason: str) -> None:
    sim.script("agents", [reason])
    reply = translate(http, "abcdefgh").json()
    assert reply["status"] == "success" and reply["choices"][0]["finish_reason"] == reason
    assert reply_text(reply) == ("[de] a" if reason == "length" else "")


def test_content_faults_corrupt_placeholders_or_skip_the_glossary(
    sim: SimulatorHandle, http: httpx.Client
) -> None:
    file_id = upload(http, "g.txt", b"en,de\nvalve,Ventil\n").json()["id"]
    sim.script("agents", ["placeholder_drop", "placeholder_duplicate", "glossary_drop", "ok"])
    texts = [
        reply_text(translate(http, "Open ⟦1⟧ valve ⟦2⟧", glossary=file_id).json()) for _ in range(4)
    ]
    assert texts == [
        "[de] Open  Ventil ⟦2⟧",
        "[de] Open ⟦1⟧⟦1⟧ Ventil ⟦2⟧",
        "[de] Open ⟦1⟧ valve ⟦2⟧",
        "[de] Open ⟦1⟧ Ventil ⟦2⟧",
    ]
    assert sim.counters()["faults_injected"]["glossary_drop"] == 1


def test_content_faults_apply_to_async_tasks(sim: SimulatorHandle, http: httpx.Client) -> None:
    sim.configure(mode="async", async_pending_seconds=0)
    sim.script("agents", ["placeholder_drop"])
    async_id = translate(http, "Hi {name}").json()["async_id"]
    assert reply_text(poll(http, async_id)) == "[de] Hi "


def test_faults_on_files_routes(sim: SimulatorHandle, http: httpx.Client) -> None:
    sim.script("files_upload", ["500"])
    sim.script("files_list", ["drop"])
    sim.script("files_delete", ["429_1302"])
    assert_error(upload(http), 500, "500")
    with pytest.raises(httpx.RemoteProtocolError):
        http.get("/api/paas/v4/files")
    assert_error(http.delete("/api/paas/v4/files/file-x"), 429, "1302")
    assert sim.counters()["files"] == 0  # the failed upload stored nothing


def test_rates_are_seeded(sim: SimulatorHandle, http: httpx.Client) -> None:
    def run() -> list[int]:
        sim.script("agents", rates={"500": 0.5}, seed=3)
        return [translate(http).status_code for _ in range(30)]

    first = run()
    assert first == run()
    assert set(first) == {200, 500}


def test_control_api_rejects_bad_fault_plans(sim: SimulatorHandle) -> None:
    with httpx.Client(base_url=sim.base_url) as control:
        for body in [
            {"route": "nowhere", "script": ["500"]},
            {"route": "agents", "script": ["teapot"]},
            {"route": "files_list", "script": ["sensitive"]},
            {"route": "agents", "rates": {"500": 2}},
            {"route": "agents", "script": "500"},
        ]:
            assert control.post("/_sim/faults", json=body).status_code == 400, body
        assert control.post("/_sim/config", json={"mode": "turbo"}).status_code == 400
        assert control.post("/_sim/config", json={"unknown": 1}).status_code == 400
        assert control.get("/_sim/nothing").status_code == 404


def test_unauthenticated_calls_do_not_consume_the_script(sim: SimulatorHandle) -> None:
    sim.script("agents", ["500"])
    with httpx.Client(base_url=sim.base_url) as anonymous:
        assert_error(anonymous.post("/api/v1/agents", json=agent_body()), 401, "1001")
    assert sim.counters()["faults_injected"] == {}


# --- async mode ---


def poll(http: httpx.Client, async_id: str, path: str = "/api/v1/agents/async-result") -> Any:
    body = {"agent_id": "general_translation", "async_id": async_id}
    return http.post(path, json=body).json()


def test_async_pending_then_success_by_the_clock(sim: SimulatorHandle, http: httpx.Client) -> None:
    sim.configure(mode="async", async_pending_seconds=60)
    submitted = translate(http).json()
    assert submitted["status"] == "pending" and submitted["agent_id"] == "general_translation"
    async_id = submitted["async_id"]
    assert poll(http, async_id) == submitted
    assert sim.counters()["async_pending"] == 1
    sim.advance_clock(61)
    done = poll(http, async_id)
    assert done["status"] == "success" and done["async_id"] == async_id
    # Z.ai's OpenAPI shape: `choices[].message` is an array of messages whose content is a list.
    assert done["choices"][0]["message"] == [
        {"role": "assistant", "content": [{"type": "text", "text": "[de] Open the valve"}]}
    ]
    assert "messages" not in done["choices"][0]
    assert done["choices"][0]["finish_reason"] == "stop" and done["usage"]["total_calls"] == 1
    assert poll(http, async_id) == done | {}  # stays done
    assert sim.counters()["async_submitted"] == 1


def test_async_pending_then_success_in_real_time(sim: SimulatorHandle, http: httpx.Client) -> None:
    sim.configure(mode="async", async_pending_seconds=0.2)
    async_id = translate(http).json()["async_id"]
    assert poll(http, async_id)["status"] == "pending"
    time.sleep(0.25)
    done = poll(http, async_id, "/api/paas/v4/v1/agents/async-result")
    assert done["status"] == "success" and done["choices"][0]["message"][0]["role"] == "assistant"


def test_async_result_in_bigmodels_shape(sim: SimulatorHandle, http: httpx.Client) -> None:
    sim.configure(mode="async", async_pending_seconds=0, async_result_field="messages")
    done = poll(http, translate(http).json()["async_id"])
    assert reply_text(done) == "[de] Open the valve" and "message" not in done["choices"][0]


@pytest.mark.parametrize("fault", ["429_1302", "400_1214", "401_1002"])
def test_flat_error_envelope(sim: SimulatorHandle, http: httpx.Client, fault: str) -> None:
    sim.configure(error_envelope="flat")
    sim.script("agents", [fault])
    reply = translate(http)
    status, code = fault.split("_")
    assert reply.status_code == int(status)
    body = reply.json()
    assert set(body) == {"code", "message"} and body["code"] == int(code)  # OpenAPI `Error`
    assert translate(http, glossary="file-unknown").json()["code"] == 1214  # validation too


def test_tasks_list_every_submission_and_tell_calls_apart(
    sim: SimulatorHandle, http: httpx.Client
) -> None:
    sim.configure(mode="async")
    first = translate(http, "Open the valve").json()["async_id"]
    again = translate(http, "Open the valve").json()["async_id"]
    other = translate(http, "Close the valve").json()["async_id"]
    french = translate(http, "Open the valve", target_lang="fr").json()["async_id"]
    tasks = sim.tasks()
    assert [t["async_id"] for t in tasks] == [first, again, other, french]
    content = [t["content"] for t in tasks]
    assert content[0] == content[1] and len(set(content)) == 3
    assert [t["target_lang"] for t in tasks] == ["de", "de", "de", "fr"]
    assert tasks[0]["key"] == hashlib.sha256(KEY.encode()).hexdigest()[:12]
    assert tasks[0]["created_at"] <= tasks[1]["created_at"] and not tasks[0]["failed"]
    assert [t["polls"] for t in tasks] == [0, 0, 0, 0]
    poll(http, first)
    poll(http, first)
    assert [t["polls"] for t in sim.tasks()] == [2, 0, 0, 0]
    sim.reset()
    assert sim.tasks() == []


def test_async_failed_fault_on_submit(sim: SimulatorHandle, http: httpx.Client) -> None:
    sim.configure(async_pending_seconds=0)
    sim.script("agents", ["async_failed"])  # even in sync mode the call turns async
    submitted = translate(http).json()
    assert submitted["status"] == "pending"
    failed = poll(http, submitted["async_id"])
    assert failed["status"] == "failed" and failed["async_id"] == submitted["async_id"]
    assert failed["error"]["code"] == "1234" and "Network error" in failed["error"]["message"]


def test_async_failed_and_finish_reason_faults_on_polls(
    sim: SimulatorHandle, http: httpx.Client
) -> None:
    sim.configure(mode="async", async_pending_seconds=0)
    first, second = translate(http).json()["async_id"], translate(http).json()["async_id"]
    sim.script("async_result", ["async_failed", "sensitive"])
    assert poll(http, first)["status"] == "failed"
    assert poll(http, first)["status"] == "failed"  # a failed task stays failed
    assert poll(http, second)["status"] == "success"  # script entry 2 went to the repeat poll
    sim.script("async_result", ["length"])
    assert poll(http, second)["choices"][0]["finish_reason"] == "length"


def test_async_result_errors(sim: SimulatorHandle, http: httpx.Client) -> None:
    sim.configure(mode="async")
    async_id = translate(http).json()["async_id"]
    assert_error(http.post("/api/v1/agents/async-result", json={"async_id": "nope"}), 404, "1214")
    wrong_agent = {"agent_id": "vidu_template_agent", "async_id": async_id}
    assert_error(http.post("/api/v1/agents/async-result", json=wrong_agent), 400, "1214")
    assert_error(http.post("/api/v1/agents/async-result", json={}), 400, "1214")
    other_key = {"Authorization": "Bearer someone.else"}
    body = {"async_id": async_id}
    response = http.post("/api/v1/agents/async-result", json=body, headers=other_key)
    assert_error(response, 404, "1214")


# --- streaming ---


def sse_events(http: httpx.Client, body: dict[str, Any]) -> list[str]:
    with http.stream("POST", "/api/v1/agents", json=body) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    assert all(line.startswith("data: ") for line in lines)
    return [line.removeprefix("data: ") for line in lines]


def test_streaming_chunks_end_with_done(http: httpx.Client) -> None:
    events = sse_events(http, agent_body("the valve is open") | {"stream": True})
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    text = "".join(c["choices"][0]["delta"]["content"]["text"] for c in chunks)
    assert text == "[de] the valve is open"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop" and "usage" in chunks[-1]


def test_streaming_with_an_async_failed_fault_sends_an_error_event(
    sim: SimulatorHandle, http: httpx.Client
) -> None:
    sim.script("agents", ["async_failed"])
    events = sse_events(http, agent_body() | {"stream": True})
    assert json.loads(events[0])["error"]["code"] == "1234" and events[-1] == "[DONE]"


# --- files ---


def test_upload_reply(sim: SimulatorHandle, http: httpx.Client) -> None:
    response = upload(http, "glossary_en_de.xlsx", b"PK-not-really")
    assert response.status_code == 200
    reply = response.json()
    assert set(reply) == {"id", "object", "bytes", "filename", "purpose", "created_at"}
    assert reply["id"].startswith("file-") and len(reply["id"]) == len(
        "file-20250301120000123-ab12c"
    )
    assert (reply["object"], reply["bytes"], reply["filename"], reply["purpose"]) == (
        "file",
        13,
        "glossary_en_de.xlsx",
        "agent",
    )
    assert abs(reply["created_at"] - time.time()) < 5
    assert sim.files()[0]["parse_error"]  # stored, but not a usable glossary


@pytest.mark.parametrize(
    ("name", "data", "purpose", "status", "code"),
    [
        ("g.exe", b"MZ", "agent", 400, "1214"),
        # Only Z.ai's documented formats (pdf doc xlsx ppt txt jpg png), not bigmodel's extras.
        ("g.csv", b"a,b", "agent", 400, "1214"),
        ("g.docx", b"PK", "agent", 400, "1214"),
        ("g.txt", b"a\tb", "fine-tune", 400, "1214"),
        ("g.txt", b"", "agent", 400, "1214"),
        ("g.txt", b"x" * 101, "agent", 435, "435"),
    ],
)
def test_upload_limits(
    sim: SimulatorHandle,
    http: httpx.Client,
    name: str,
    data: bytes,
    purpose: str,
    status: int,
    code: str,
) -> None:
    sim.configure(max_bytes=100)
    assert_error(upload(http, name, data, purpose), status, code)
    assert sim.counters()["uploads"] == 0


def test_upload_needs_a_multipart_file(http: httpx.Client) -> None:
    assert_error(http.post("/api/paas/v4/files", data={"purpose": "agent"}), 400, "1214")
    assert_error(http.post("/api/paas/v4/files", json={"purpose": "agent"}), 400, "1214")


def test_file_count_limit_is_per_key(sim: SimulatorHandle, http: httpx.Client) -> None:
    sim.configure(max_files=2)
    assert upload(http).status_code == upload(http).status_code == 200
    body = assert_error(upload(http), 400, "1214")
    assert "file count limit" in body["error"]["message"]
    other = {"Authorization": "Bearer other.key"}
    response = http.post(
        "/api/paas/v4/files",
        data={"purpose": "agent"},
        files={"file": ("g.txt", b"a\tb")},
        headers=other,
    )
    assert response.status_code == 200


def test_list_pagination_newest_first(http: httpx.Client) -> None:
    ids = [upload(http, f"g{i}.txt").json()["id"] for i in range(5)]
    page = http.get("/api/paas/v4/files", params={"purpose": "agent", "limit": 2}).json()
    assert page["object"] == "list" and page["has_more"] is True
    assert [f["id"] for f in page["data"]] == [ids[4], ids[3]]
    assert page["data"][0]["filename"] == "g4.txt" and page["data"][0]["object"] == "file"
    rest = http.get(
        "/api/paas/v4/files", params={"limit": 3, "after": ids[3], "order": "created_at"}
    ).json()
    assert [f["id"] for f in rest["data"]] == [ids[2], ids[1], ids[0]] and rest["has_more"] is False
    assert http.get("/api/paas/v4/files", params={"purpose": "batch"}).json()["data"] == []
    assert http.get("/api/paas/v4/files", params={"after": "file-gone"}).json()["data"] == []
    assert len(http.get("/api/paas/v4/files").json()["data"]) == 5


@pytest.mark.parametrize("params", [{"limit": "0"}, {"limit": "101"}, {"order": "name"}])
def test_list_rejects_bad_parameters(http: httpx.Client, params: dict[str, str]) -> None:
    assert_error(http.get("/api/paas/v4/files", params=params), 400, "1214")


def test_files_are_private_to_their_key(http: httpx.Client) -> None:
    file_id = upload(http).json()["id"]
    other = {"Authorization": "Bearer other.key"}
    assert http.get("/api/paas/v4/files", headers=other).json()["data"] == []
    assert_error(http.delete(f"/api/paas/v4/files/{file_id}", headers=other), 404, "1214")
    response = http.post("/api/v1/agents", json=agent_body(glossary=file_id), headers=other)
    assert_error(response, 400, "1214")


def test_delete(sim: SimulatorHandle, http: httpx.Client) -> None:
    file_id = upload(http).json()["id"]
    response = http.delete(f"/api/paas/v4/files/{file_id}")
    assert response.json() == {"id": file_id, "object": "file", "deleted": True}
    assert_error(http.delete(f"/api/paas/v4/files/{file_id}"), 404, "1214")
    assert_error(translate(http, glossary=file_id), 400, "1214")
    assert sim.counters()["deletes"] == 1


def test_retention_by_the_simulator_clock(sim: SimulatorHandle, http: httpx.Client) -> None:
    old = upload(http).json()["id"]
    sim.advance_clock(179 * 86_400)
    assert reply_text(translate(http, glossary=old).json()) == "[de] Open the Ventil"
    young = upload(http).json()["id"]
    sim.advance_clock(2 * 86_400)
    listed = [f["id"] for f in http.get("/api/paas/v4/files").json()["data"]]
    assert listed == [young]
    assert_error(translate(http, glossary=old), 400, "1214")
    assert sim.counters()["files"] == 1
    sim.configure(retention_days=1)
    assert http.get("/api/paas/v4/files").json()["data"] == []


# --- control API ---


def test_reset_restores_everything(sim: SimulatorHandle, http: httpx.Client) -> None:
    upload(http)
    sim.configure(mode="async", max_files=1)
    sim.script("agents", ["500", "500"])
    sim.advance_clock(10)
    sim.reset()
    counters = sim.counters()
    assert counters["files"] == 0 and counters["calls"]["files_upload"] == 0
    assert counters["clock_offset"] == 0
    assert translate(http).json()["status"] == "success"  # sync again, no faults left
    with httpx.Client(base_url=sim.base_url) as control:
        assert control.get("/_sim/config").json()["max_files"] == 100
        assert control.get("/_sim/faults").json() == {}


def test_configure_returns_the_effective_config(sim: SimulatorHandle) -> None:
    config = sim.configure(latency_ms=5, mode="async", async_pending_seconds=1.5)
    assert (config["latency_ms"], config["mode"], config["async_pending_seconds"]) == (
        5,
        "async",
        1.5,
    )
    assert config["retention_days"] == 180 and config["unknown_glossary"] == "error"


def test_recent_requests_show_what_clients_sent(sim: SimulatorHandle, http: httpx.Client) -> None:
    translate(http, "hello", glossary=None)
    upload(http, "terms.txt")
    recorded = sim.requests("agents")
    assert len(recorded) == 1
    assert recorded[0]["body"]["messages"][0]["content"][0]["text"] == "hello"
    assert sim.requests("files_upload")[0]["body"] == {"purpose": "agent", "filename": "terms.txt"}


def test_clock_reports_the_offset(sim: SimulatorHandle) -> None:
    moved = sim.advance_clock(3600)
    assert moved["offset"] == 3600 and moved["now"] > time.time() + 3500


def test_a_reused_body_request_id_is_400_1231(http: httpx.Client) -> None:
    body = agent_body() | {"request_id": "req-1"}
    assert http.post("/api/v1/agents", json=body).status_code == 200
    assert_error(http.post("/api/v1/agents", json=body), 400, "1231")
    assert http.post("/api/v1/agents", json=body | {"request_id": "req-1-1"}).status_code == 200


def test_a_client_gone_mid_request_is_no_error(
    sim: SimulatorHandle, http: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    # A worker killed while sending: headers and half a body, then the connection closes.
    host, port = sim.base_url.removeprefix("http://").split(":")
    head = (
        "POST /api/v1/agents HTTP/1.1\r\nHost: sim\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {KEY}\r\nContent-Length: 500\r\n\r\n"
    )
    with socket.create_connection((host, int(port))) as conn:
        conn.sendall(head.encode() + b'{"agent_id": "general_tr')
    time.sleep(0.3)
    assert translate(http).status_code == 200
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]


def test_tokenizer_counts_deterministically_like_the_agents_prompt_tokens(
    sim: SimulatorHandle, http: httpx.Client
) -> None:
    body = {"model": "glm-4.6", "messages": [{"role": "user", "content": "Open the valve"}]}
    first = http.post("/api/paas/v4/tokenizer", json={**body, "request_id": "count-1"})
    assert first.status_code == 200, first.text
    reply = first.json()
    assert reply["usage"] == {"prompt_tokens": 4}  # ceil(14 / 4), as the agent counts it
    assert reply["request_id"] == "count-1" and reply["id"] and reply["created"] > 0
    assert http.post("/api/paas/v4/tokenizer", json=body).json()["usage"]["prompt_tokens"] == 4
    parts = {"role": "user", "content": [{"type": "text", "text": "Open the valve"}]}
    system = {"role": "system", "content": "Be brief"}
    two = http.post("/api/paas/v4/tokenizer", json={**body, "messages": [system, parts]})
    assert two.json()["usage"]["prompt_tokens"] == 2 + 4
    prompt = translate(http).json()["usage"]["prompt_tokens"]
    assert prompt == 4
    assert sim.counters()["calls"]["tokenizer"] == 3


@pytest.mark.parametrize(
    "body",
    [
        {"model": "gpt-4", "messages": [{"role": "user", "content": "x"}]},
        # bigmodel's tokenizer lists it; Z.ai's page does not
        {"model": "glm-4-plus", "messages": [{"role": "user", "content": "x"}]},
        {"model": "glm-4.6", "messages": []},
        {"model": "glm-4.6", "messages": [{"role": "system", "content": "only system"}]},
        {"model": "glm-4.6", "messages": [{"role": "user", "content": {"text": "x"}}]},
    ],
)
def test_tokenizer_rejects_what_zai_documents_as_invalid(
    http: httpx.Client, body: dict[str, Any]
) -> None:
    reply = http.post("/api/paas/v4/tokenizer", json=body)
    assert reply.status_code == 400 and reply.json()["error"]["code"] == "1214"


@pytest.mark.parametrize("model", ["glm-4.6", "glm-4.6v", "glm-4.5"])
def test_tokenizer_accepts_the_documented_models_and_refuses_a_reused_request_id(
    http: httpx.Client, model: str
) -> None:
    body = {"model": model, "messages": [{"role": "user", "content": "x"}]}
    rid = f"count-{model}"
    assert http.post("/api/paas/v4/tokenizer", json={**body, "request_id": rid}).status_code == 200
    again = http.post("/api/paas/v4/tokenizer", json={**body, "request_id": rid})
    assert again.status_code == 400 and again.json()["error"]["code"] == "1231"
    assert http.post("/api/paas/v4/tokenizer", json=body).status_code == 200  # no id: fine


def test_tokenizer_faults(sim: SimulatorHandle, http: httpx.Client) -> None:
    sim.script("tokenizer", ["500", "ok"])
    body = {"model": "glm-4.6", "messages": [{"role": "user", "content": "x"}]}
    assert http.post("/api/paas/v4/tokenizer", json=body).status_code == 500
    assert http.post("/api/paas/v4/tokenizer", json=body).status_code == 200
