"""Z.ai through Truto's Proxy API: a tenant's own Z.ai account, linked in Truto, no key held here.

`TrutoGateway` (one per process) holds the API token, the connection pool, each account's proxy
routes and the call budgets; `gateway.client(integrated_account_id)` is a `ZaiClient` whose
transport (`TrutoTransport`) rewrites every call into the account's proxy call. docs/truto.md.
"""

from __future__ import annotations

from service.zai.truto.budget import Budget, Window
from service.zai.truto.classify import classify_truto
from service.zai.truto.gateway import TRUTO_BASE_URL, TrutoGateway, TrutoZaiClient, account_key
from service.zai.truto.tools import TOOL_NAMES, Operation, Route
from service.zai.truto.transport import TrutoTransport

__all__ = [
    "TOOL_NAMES",
    "TRUTO_BASE_URL",
    "Budget",
    "Operation",
    "Route",
    "TrutoGateway",
    "TrutoTransport",
    "TrutoZaiClient",
    "Window",
    "account_key",
    "classify_truto",
]
