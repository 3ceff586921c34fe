"""The official Z.ai Python SDK (zai-sdk) against the simulator: every reply parses into its types.

The SDK calls agents on the PaaS base (`/api/paas/v4/v1/agents`, zai-api.md §1); the simulator
serves that alias and adds `choices[].message`, the field the SDK's model reads.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from zai import ZaiClient
from zai.core import StreamResponse
from zai.core._errors import (
    APIAuthenticationError,
    APIInternalError,
    APIReachLimitError,
    APIRequestFailedError,
)
from zai.types.agents import AgentsCompletion, AgentsCompletionChunk
from zai.types.agents.agents_completion import AgentsCompletionChoice, AgentsCompletionMessage
from zai.types.files import FileDeleted, FileObject, ListOfFileObject

from service.sim.testing import SimulatorHandle

MESSAGES = [{"role": "user", "content": [{"type": "text", "text": "Close the valve."}]}]
VARIABLES = {"source_lang": "en", "target_lang": "de"}


@pytest.fixture
def client(sim: SimulatorHandle) -> Iterator[ZaiClient]:
    client = ZaiClient(api_key="abc.def", base_url=f"{sim.base_url}/api/paas/v4", max_retries=0)
    yield client
    client.close()


def invoke(client: ZaiClient, **variables: Any) -> Any:
    return client.agents.invoke(
        agent_id="general_translation",
        messages=MESSAGES,
        custom_variables={**VARIABLES, **variables},
    )


def upload_glossary(client: ZaiClient) -> FileObject:
    glossary = io.BytesIO(b"en\tde\nvalve\tVentil\n")
    return client.files.create(file=("glossary.txt", glossary, "text/plain"), purpose="agent")


def test_upload_list_and_delete(client: ZaiClient) -> None:
    created = upload_glossary(client)
    assert isinstance(created, FileObject)
    assert created.id is not None and created.id.startswith("file-")
    assert (created.object, created.filename, created.purpose) == ("file", "glossary.txt", "agent")
    assert created.bytes == len("en\tde\nvalve\tVentil\n") and isinstance(created.created_at, int)

    listed = client.files.list(purpose="agent", limit=10)
    assert isinstance(listed, ListOfFileObject) and listed.object == "list"
    assert listed.has_more is False
    assert [f.id for f in listed.data] == [created.id] and isinstance(listed.data[0], FileObject)

    deleted = client.files.delete(created.id)
    assert isinstance(deleted, FileDeleted)
    assert (deleted.id, deleted.deleted, deleted.object) == (created.id, True, "file")
    assert client.files.list(purpose="agent").data == []


def test_invoke_translation_with_a_glossary(sim: SimulatorHandle, client: ZaiClient) -> None:
    glossary = upload_glossary(client)
    reply = invoke(client, glossary=glossary.id, strategy="reflection")
    assert isinstance(reply, AgentsCompletion)
    assert (reply.status, reply.agent_id) == ("success", "general_translation")
    assert reply.id is not None and reply.id[:14].isdigit()
    choice = reply.choices[0]
    assert isinstance(choice, AgentsCompletionChoice) and isinstance(
        choice.message, AgentsCompletionMessage
    )
    assert (choice.index, choice.finish_reason, choice.message.role) == (0, "stop", "assistant")
    assert choice.message.content == {"type": "text", "text": "[de] Close the Ventil."}
    assert reply.usage is not None
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens
    sent = sim.requests("agents")[0]["body"]
    assert sent["custom_variables"]["glossary"] == glossary.id


@pytest.mark.parametrize("field", ["message", "messages"])
def test_async_invoke_and_async_result(sim: SimulatorHandle, client: ZaiClient, field: str) -> None:
    # Async is the simulator's drill mode (General Translation answers synchronously); the
    # result comes in Z.ai's OpenAPI shape (`message`, an array) or bigmodel's (`messages`).
    sim.configure(mode="async", async_pending_seconds=30, async_result_field=field)
    submitted = invoke(client)
    assert isinstance(submitted, AgentsCompletion) and submitted.status == "pending"
    async_id = submitted.async_id  # an extra field the SDK keeps

    pending = client.agents.async_result(agent_id="general_translation", async_id=async_id)
    assert isinstance(pending, AgentsCompletion) and pending.status == "pending"

    sim.advance_clock(31)
    done = client.agents.async_result(agent_id="general_translation", async_id=async_id)
    assert isinstance(done, AgentsCompletion) and done.status == "success"
    message = done.choices[0].message
    if field == "message":
        # The SDK's lenient models take the documented array as a list of its messages.
        (item,) = message
        assert isinstance(item, AgentsCompletionMessage) and item.role == "assistant"
        assert item.content == [{"type": "text", "text": "[de] Close the valve."}]
    else:  # the alias route adds the `message` object the SDK's model reads
        assert isinstance(message, AgentsCompletionMessage)
        assert message.content == {"type": "text", "text": "[de] Close the valve."}
    assert done.choices[0].finish_reason == "stop"


def test_async_result_failed(sim: SimulatorHandle, client: ZaiClient) -> None:
    sim.configure(async_pending_seconds=0)
    sim.script("agents", ["async_failed"])
    submitted = invoke(client)
    failed = client.agents.async_result(
        agent_id="general_translation",
        async_id=submitted.async_id,
    )
    assert failed.status == "failed"
    assert failed.error is not None and failed.error.code == "1234"
    assert failed.error.message is not None and "Network error" in failed.error.message


def test_streaming(client: ZaiClient) -> None:
    stream = client.agents.invoke(
        agent_id="general_translation", messages=MESSAGES, custom_variables=VARIABLES, stream=True
    )
    assert isinstance(stream, StreamResponse)
    chunks = list(stream)
    assert all(isinstance(chunk, AgentsCompletionChunk) for chunk in chunks)
    text = "".join(chunk.choices[0].delta.content["text"] for chunk in chunks)
    assert text == "[de] Close the valve."
    assert chunks[-1].choices[0].finish_reason == "stop" and chunks[-1].usage is not None


@pytest.mark.parametrize(
    ("fault", "error_type", "code"),
    [
        ("429_1302", APIReachLimitError, "1302"),
        ("429_1113", APIReachLimitError, "1113"),
        ("400_1214", APIRequestFailedError, "1214"),
        ("401_1002", APIAuthenticationError, "1002"),
        ("500", APIInternalError, "500"),
    ],
)
@pytest.mark.parametrize("envelope", ["nested", "flat"])
def test_errors_map_to_the_sdk_exception_types(
    sim: SimulatorHandle,
    client: ZaiClient,
    fault: str,
    error_type: type[Exception],
    code: str,
    envelope: str,
) -> None:
    sim.configure(error_envelope=envelope)
    sim.script("agents", [fault])
    with pytest.raises(error_type) as caught:
        invoke(client)
    # nested: {"error": {"code": "1302", ...}}; flat (OpenAPI `Error`): {"code": 1302, ...}
    expected = f'"code":"{code}"' if envelope == "nested" else f'"code":{code}'
    assert expected in str(caught.value)


def test_sdk_retries_a_429_then_succeeds(sim: SimulatorHandle) -> None:
    sim.script("agents", ["429_1302", "ok"])
    with ZaiClient(
        api_key="abc.def", base_url=f"{sim.base_url}/api/paas/v4", max_retries=2
    ) as client:
        assert invoke(client).status == "success"
    assert sim.counters()["calls"]["agents"] == 2
