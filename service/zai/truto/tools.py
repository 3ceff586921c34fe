"""Which Truto proxy call stands for which Z.ai call: operations, tools and routes (pure).

Truto's Z.ai integration exposes Z.ai's operations as tools (`GET /integrated-account/{id}/tools`
answers `{resource, method, name, ...}` per tool). Tool names follow
`<verb>_a_<integration>_<singular resource>`; the resource names behind them are not published,
so they are read from the account's tools on first use, and any of them can be set in
TRUTO_RESOURCES instead (docs/truto.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

import httpx


class Operation(StrEnum):
    """The Z.ai calls the client makes, named by what they do."""

    agents = "agents"
    async_result = "async_result"
    upload = "upload"
    list_files = "list_files"
    delete_file = "delete_file"
    tokenizer = "tokenizer"


#: The tool of Truto's Z.ai integration for each operation. The first three and the tokenizer
#: are among the 14 tools Truto lists for Z.ai; list and delete are not (Z.ai documents
#: neither), so through the proxy the upload cache cannot evict (docs/truto.md).
TOOL_NAMES: Mapping[Operation, str] = {
    Operation.agents: "create_a_z_ai_agent",
    Operation.async_result: "create_a_z_ai_agents_async_result",
    Operation.upload: "create_a_z_ai_paas_file",
    Operation.list_files: "list_all_z_ai_paas_files",
    Operation.delete_file: "delete_a_z_ai_paas_file",
    Operation.tokenizer: "create_a_z_ai_paas_tokenizer",
}

#: The proxy method an operation implies when TRUTO_RESOURCES names only a resource.
DEFAULT_METHODS: Mapping[Operation, str] = {
    Operation.agents: "create",
    Operation.async_result: "create",
    Operation.upload: "create",
    Operation.list_files: "list",
    Operation.delete_file: "delete",
    Operation.tokenizer: "create",
}

_VERBS = {"create": "POST", "list": "GET", "get": "GET", "update": "PATCH", "delete": "DELETE"}


@dataclass(frozen=True)
class Route:
    """A proxy resource and method: `POST /proxy/{resource}` for create, `DELETE
    /proxy/{resource}/{id}` for delete, `POST /proxy/{resource}/{method}` for a custom one."""

    resource: str
    method: str

    def verb(self) -> str:
        return _VERBS.get(self.method, "POST")

    def path(self, item_id: str | None = None) -> str:
        base = f"/proxy/{self.resource}"
        if self.method in ("get", "update", "delete"):
            return f"{base}/{item_id or ''}"
        if self.method in _VERBS:
            return base
        return f"{base}/{self.method}"


def operation_of(request: httpx.Request) -> tuple[Operation, str | None]:
    """The operation a ZaiClient request performs, and the file id it names (delete)."""
    path, method = request.url.path.rstrip("/"), request.method
    if method == "POST" and path.endswith("/agents/async-result"):
        return Operation.async_result, None
    if method == "POST" and path.endswith("/agents"):
        return Operation.agents, None
    if method == "POST" and path.endswith("/tokenizer"):
        return Operation.tokenizer, None
    if path.endswith("/files"):
        if method == "POST":
            return Operation.upload, None
        if method == "GET":
            return Operation.list_files, None
    head, _, file_id = path.rpartition("/")
    if method == "DELETE" and head.endswith("/files") and file_id:
        return Operation.delete_file, file_id
    raise ValueError(f"no Truto route for {method} {path}")


def parse_override(operation: Operation, value: str) -> Route:
    """A TRUTO_RESOURCES entry: `resource` (the operation's usual method) or `resource/method`."""
    resource, _, method = value.strip().strip("/").partition("/")
    if not resource:
        raise ValueError(f"TRUTO_RESOURCES[{operation.value!r}] names no resource")
    return Route(resource, method or DEFAULT_METHODS[operation])


def routes_from_tools(body: object) -> dict[Operation, Route]:
    """The routes an account's tools offer, from any of the shapes the endpoint may answer:
    a list of tools, `{"result": [...]}`, or an object of tools by name."""
    tools = body.get("result", body) if isinstance(body, Mapping) else body
    if isinstance(tools, Mapping):
        tools = list(tools.values())
    by_name: dict[str, Route] = {}
    for tool in tools if isinstance(tools, list) else []:
        if not isinstance(tool, Mapping):
            continue
        name, resource, method = tool.get("name"), tool.get("resource"), tool.get("method")
        if isinstance(name, str) and isinstance(resource, str) and isinstance(method, str):
            by_name[name] = Route(resource, method)
    return {op: by_name[name] for op, name in TOOL_NAMES.items() if name in by_name}
