"""Parts of the security drill: canary secrets, the tenant isolation matrix, hostile uploads.

The matrix is generated from the admin API's own routes (`fastapi.routing.iter_route_contexts`,
which also yields routes left out of the OpenAPI document), so a new route is either covered or
fails the drill until it is given an audience, and a body if it takes one.
"""

from __future__ import annotations

import io
import json
import re
import secrets
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from fastapi import FastAPI, routing

from service.auth.credentials import new_key
from service.config import Settings

DATA = Path(__file__).resolve().parents[1] / "data" / "glossary"
TENANTS = ("acme", "globex")

# --- canaries ------------------------------------------------------------------------------


def canary(label: str) -> str:
    return f"cnry{label.replace('_', '')}{secrets.token_hex(12)}"


# Stored by the isolation matrix's PUT …/signing-secret: a secret the drill looks for too.
SIGNING_SECRET = canary("signing")


def canary_settings() -> tuple[dict[str, str], list[str]]:
    """A canary value for every secret setting (a SecretStr field of Settings), as environment
    variables, and the secrets to look for. A secret setting added later gets one too."""
    env: dict[str, str] = {}
    found: list[str] = []
    for name, info in Settings.model_fields.items():
        if "SecretStr" not in str(info.annotation):
            continue
        if name == "credentials_key":  # must be a Fernet key
            value = new_key()
        elif name == "api_tenant_tokens":  # tenant -> token, as JSON
            tokens = {t: canary(f"{t}token") for t in TENANTS}
            env[name.upper()] = json.dumps(tokens)
            found += tokens.values()
            continue
        else:
            value = canary(name)
        env[name.upper()] = value
        found.append(value)
    return env, found


def leaks(secret_values: list[str], sources: dict[str, str]) -> list[str]:
    """Where a secret, or a 16-character piece from its middle, shows up."""
    out = []
    for label, text in sources.items():
        for value in secret_values:
            piece = value[len(value) // 3 : len(value) // 3 + 16]
            if value in text:
                out.append(f"{label}: holds a secret ({value[:8]}…)")
            elif piece in text:
                out.append(f"{label}: holds part of a secret ({value[:8]}…)")
    return out


# --- the isolation matrix ------------------------------------------------------------------


class Audience(StrEnum):
    public = "public"  # health, metrics and API docs: no token
    tenant = "tenant"  # /v1/tenants/{tenant}/…: that tenant's tokens and admin tokens
    admin = "admin"  # /v1/tokens…, /v1/usage…: admin tokens only
    # /console…: a signed-in session cookie only. No bearer token opens it (the console's forms
    # rely on the cookie's SameSite and their CSRF value), so every token here is refused with
    # a redirect to sign-in. Signed-in isolation (another tenant's pages 404, CSRF on every
    # form) is walked route by route in tests/integration/console/test_console_http.py.
    console = "console"


PUBLIC = frozenset(
    ["/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc", "/healthz", "/readyz", "/metrics"]
)
# Under a tenant's path, but written by an admin only: the tenant reads its budget, an admin
# sets it (docs/usage.md). The owner's token is refused with 403 there, another tenant's 404.
ADMIN_WRITES = frozenset(
    [
        ("PUT", "/v1/tenants/{tenant}/budget"),
        ("DELETE", "/v1/tenants/{tenant}/budget"),
        # A tenant's own token must not mint the proof that a message speaks for it.
        ("PUT", "/v1/tenants/{tenant}/signing-secret"),
        ("DELETE", "/v1/tenants/{tenant}/signing-secret"),
    ]
)
# The sign-in form itself: public, with its own checks (a wrong token 401, CSRF) in
# tests/integration/console/test_console_http.py.
SIGN_IN = "/console/sign-in"


def operations(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path template) the app serves, HEAD aside."""
    ops = {
        (method, str(route.path))
        for route in routing.iter_route_contexts(app.routes)
        for method in route.methods or ()
        if method != "HEAD"
    }
    return sorted(ops, key=lambda op: (op[1], op[0]))


def audience(path: str) -> Audience:
    if path in PUBLIC:
        return Audience.public
    if path.startswith("/v1/tenants/{tenant}/"):
        return Audience.tenant
    if path.startswith(("/v1/tokens", "/v1/usage")):
        return Audience.admin
    if path == "/console" or path.startswith("/console/"):
        return Audience.console
    raise AssertionError(f"{path} is in no audience of the isolation matrix: give it one")


@dataclass
class Resources:
    """What one tenant owns, to fill path parameters with."""

    tenant: str
    glossary: str  # a glossary's name
    glossary_id: str
    scratch: str  # a glossary a DELETE may remove
    request_id: str  # a job of the tenant
    token_id: str  # a minted token a DELETE may revoke (admin routes)


def url(method: str, path: str, own: Resources, ids_of: Resources | None = None) -> str:
    """`path` filled in with `own`'s resources, or with the ids of `ids_of`'s resources."""
    values = {
        "tenant": own.tenant,
        "glossary": own.scratch if method == "DELETE" else own.glossary,
        "version": "1",
        "request_id": own.request_id,
        "token_id": own.token_id,
    }
    if ids_of is not None:
        values |= {"glossary": ids_of.glossary_id, "request_id": ids_of.request_id}
    unknown = set(re.findall(r"{(\w+)}", path)) - set(values)
    assert not unknown, f"{path}: the matrix cannot fill {unknown}; add them to url()"
    return path.format(**values)


LEGAL: dict[str, Any] = {
    "source_lang": "en",
    "entries": [
        {"term": "warranty", "translations": {"de": "Gewährleistung", "fr": "garantie"}},
        {"term": "Acme", "translations": {"de": "Acme"}, "do_not_translate": True},
    ],
}
# The body of each operation that takes one: valid, so that a refusal is about who asks.
BODIES: dict[tuple[str, str], Callable[[int], dict[str, Any]]] = {
    ("POST", "/v1/tokens"): lambda n: {"json": {"name": f"matrix-{n}", "tenant_id": "acme"}},
    ("PUT", "/v1/tenants/{tenant}/credentials/zai"): lambda n: {
        "json": {"api_key": f"matrix.key-{n:05d}"}
    },
    ("POST", "/v1/tenants/{tenant}/glossaries"): lambda n: {"json": LEGAL | {"name": f"m{n}"}},
    ("PUT", "/v1/tenants/{tenant}/glossaries/{glossary}"): lambda n: {"json": LEGAL},
    ("PATCH", "/v1/tenants/{tenant}/glossaries/{glossary}/entries"): lambda n: {
        "json": {"upsert": [{"term": f"term{n}", "translations": {"de": f"Begriff{n}"}}]}
    },
    ("PUT", "/v1/tenants/{tenant}/settings"): lambda n: {"json": {"qa_glossary_policy": "retry"}},
    ("PUT", "/v1/tenants/{tenant}/budget"): lambda n: {"json": {"monthly_tokens": 10**9 + n}},
    ("PUT", "/v1/tenants/{tenant}/signing-secret"): lambda n: {
        "json": {"secret": SIGNING_SECRET, "grace_seconds": 60}
    },
    # An own key again: the DELETE before it (same path, sorted first) removed the stored one.
    ("PUT", "/v1/tenants/{tenant}/connection"): lambda n: {
        "json": {"kind": "zai_key", "api_key": f"matrix.key-{n:05d}"}
    },
}


def body(method: str, path: str, n: int) -> dict[str, Any]:
    if method in ("GET", "DELETE") or path.startswith("/console"):
        return {}  # console forms are refused before their body is read
    make = BODIES.get((method, path))
    assert make is not None, f"{method} {path} takes a body: add a valid one to BODIES"
    return make(n)


@dataclass(frozen=True)
class Case:
    who: str
    method: str
    url: str
    headers: dict[str, str]
    kwargs: dict[str, Any] = field(default_factory=dict)
    expect: int | None = None  # None: any 2xx

    def label(self) -> str:
        return f"{self.method} {self.url} as {self.who}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


BAD_CREDENTIALS = {
    "no token": {},
    "an unknown token": bearer("not-a-token"),
    "a forged minted token": bearer("zl_0123456789abcdef_" + "x" * 32),
    "another scheme": {"Authorization": "Basic YWRtaW46YWRtaW4="},
    "a bearer without a token": {"Authorization": "Bearer"},
}


def refusals(
    ops: list[tuple[str, str]], own: dict[str, Resources], tokens: dict[str, list[str]]
) -> list[Case]:
    """What must be refused: bad credentials (401), a tenant's token on another tenant's
    resources, by path or by id (404), a tenant's token on admin routes (403)."""
    cases: list[Case] = []
    for n, (method, path) in enumerate(ops):
        kind = audience(path)
        if kind is Audience.public or path == SIGN_IN:
            continue
        kw = body(method, path, n)
        target = url(method, path, own["globex"])
        if kind is Audience.console:
            cases += console_refusals(method, target, tokens)
            continue
        cases += [Case(who, method, target, h, kw, 401) for who, h in BAD_CREDENTIALS.items()]
        for attacker, victim in (("acme", "globex"), ("globex", "acme")):
            for i, token in enumerate(tokens[attacker]):
                who = f"{attacker}'s {'configured' if i == 0 else 'minted'} token"
                if kind is Audience.admin:
                    cases.append(Case(who, method, target, bearer(token), kw, 403))
                    continue
                theirs = url(method, path, own[victim])
                cases.append(Case(f"{who} on {victim}", method, theirs, bearer(token), kw, 404))
                if (method, path) in ADMIN_WRITES:
                    mine = url(method, path, own[attacker])
                    cases.append(Case(f"{who} on its own", method, mine, bearer(token), kw, 403))
                if "{glossary}" in path or "{request_id}" in path:
                    mixed = url(method, path, own[attacker], ids_of=own[victim])
                    cases.append(
                        Case(f"{who}, {victim}'s ids", method, mixed, bearer(token), kw, 404)
                    )
    return cases


def console_refusals(method: str, target: str, tokens: dict[str, list[str]]) -> list[Case]:
    """No session: every console route redirects to sign-in, whatever bearer token is sent."""
    sent = dict(BAD_CREDENTIALS) | {
        f"{t}'s token as a bearer": bearer(token) for t, ts in tokens.items() for token in ts
    }
    return [Case(who, method, target, h, {}, 303) for who, h in sent.items()]


def permitted(
    ops: list[tuple[str, str]], own: dict[str, Resources], tokens: dict[str, list[str]], admin: str
) -> list[Case]:
    """The positive control: the owner and an admin are served (2xx), so a 404 above is
    isolation, not a broken route."""
    cases: list[Case] = []
    for n, (method, path) in enumerate(ops):
        kind = audience(path)
        if kind is Audience.console or path == SIGN_IN:
            continue  # served only to a session: tests/integration/console signs in
        kw = body(method, path, 10_000 + n)
        if kind is Audience.tenant:
            mine = url(method, path, own["acme"])
            if (method, path) not in ADMIN_WRITES:
                owner = bearer(tokens["acme"][0])
                cases.append(Case("acme's token on acme", method, mine, owner, kw))
            theirs = url(method, path, own["globex"])
            cases.append(Case("the admin token on globex", method, theirs, bearer(admin), kw))
        elif kind is Audience.admin:
            cases.append(
                Case("the admin token", method, url(method, path, own["acme"]), bearer(admin), kw)
            )
        else:
            cases.append(Case("anyone", method, path, {}))
    return cases


# --- hostile uploads -----------------------------------------------------------------------


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def zip_bomb() -> bytes:
    """A 'workbook' whose one sheet inflates to 64 MiB of cells from well under 1 MiB."""
    row = b'<row><c t="inlineStr"><is><t>' + b"A" * 1000 + b"</t></is></c></row>"
    sheet = b"<worksheet><sheetData>" + row * (64 * 1024 * 1024 // len(row)) + b"</sheetData>"
    return _zip({"xl/worksheets/sheet1.xml": sheet + b"</worksheet>"})


def _file(name: str, content: bytes, glossary: str = "hostile") -> dict[str, Any]:
    return {
        "files": {"file": (name, content, "application/octet-stream")},
        "data": {"name": glossary},
    }


def hostile_uploads(max_file_bytes: int) -> dict[str, tuple[dict[str, Any], int]]:
    """name -> (httpx keyword arguments for POST …/glossaries, the expected status)."""
    csv = b"en,de\ninvoice,Rechnung\n"
    oversized = b"en,de\n" + b"term,Begriff\n" * (max_file_bytes // 12 + 1000)
    return {
        "XXE TBX": (_file("xxe.tbx", (DATA / "xxe.tbx").read_bytes()), 422),
        "billion-laughs TBX": (_file("lol.tbx", (DATA / "billion-laughs.tbx").read_bytes()), 422),
        "parameter-entity TBX": (
            _file("pe.tbx", (DATA / "parameter-entity.tbx").read_bytes()),
            422,
        ),
        "zip-bomb XLSX": (_file("bomb.xlsx", zip_bomb()), 422),
        "oversized CSV": (_file("big.csv", oversized), 413),
        "oversized CSV, no Content-Length": (_chunked("big.csv", oversized), 422),
        # Not UTF-8 and no other encoding fits (a Latin-1 or UTF-16 file is detected and read).
        "binary junk as CSV": (_file("junk.csv", b"en,de\n" + bytes(range(256)) * 8), 422),
        "unknown encoding named": (
            {**_file("t.csv", csv), "data": {"name": "hostile", "encoding": "x-no-such"}},
            422,
        ),
        "path as the file name": (_file("../../etc/passwd.csv", csv), 422),
        "absolute path as the file name": (_file("/etc/passwd.csv", csv), 422),
        "path as the glossary name": (_file("t.csv", csv, glossary="../../etc/passwd"), 422),
        "path as the glossary name, JSON": ({"json": LEGAL | {"name": "../etc"}}, 422),
        "NUL in the glossary name": (_file("t.csv", csv, glossary="a\x00b"), 422),
        "JSON body not UTF-8": (
            {"content": b"\xff\xfe{}", "headers": {"Content-Type": "application/json"}},
            422,
        ),
    }


def _chunked(name: str, content: bytes) -> dict[str, Any]:
    """A multipart body sent as a stream: no Content-Length, so the server must stop reading."""
    boundary = secrets.token_hex(8)
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\nstreamed\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    async def stream() -> Any:
        yield head
        for i in range(0, len(content), 64 * 1024):
            yield content[i : i + 64 * 1024]
        yield tail

    return {
        "content": stream(),
        "headers": {"Content-Type": f"multipart/form-data; boundary={boundary}"},
    }
