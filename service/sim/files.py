"""Files routes (zai-api.md §3-§5) and glossary lookup for the agents route."""

from __future__ import annotations

from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.responses import Response

from service.sim.glossary_file import GlossaryFileError, file_extension, parse_glossary
from service.sim.http import Call, error_response, json_response
from service.sim.state import SimState, StoredFile
from service.sim.wire import RequestError, file_object

_MAX_LIST_LIMIT = 100


def glossary_terms(state: SimState, file_id: str | None, owner: str) -> tuple[tuple[str, str], ...]:
    """Term pairs of the glossary file, () without one; unknown ids per `unknown_glossary`."""
    if file_id is None:
        return ()
    stored = state.find_file(file_id, owner)
    if stored is None:
        if state.config.unknown_glossary == "ignore":
            return ()
        raise RequestError(f"glossary is invalid: file {file_id!r} not found")
    if stored.terms is None:
        raise RequestError(f"glossary file {file_id!r} is not a term list: {stored.parse_error}")
    return stored.terms


async def upload(call: Call) -> Response:
    try:
        form = await call.request.form(max_files=1, max_fields=20)
    except (MultiPartException, HTTPException) as exc:
        raise RequestError(f"multipart/form-data body expected: {exc}") from exc
    try:
        return await _accept(call, form)
    finally:
        await form.close()  # releases the spooled temporary files


async def _accept(call: Call, form: FormData) -> Response:
    state, config = call.state, call.state.config
    purpose, part = form.get("purpose"), form.get("file")
    state.record("files_upload", call.owner, {"purpose": purpose, "filename": _name(part)})
    if not isinstance(purpose, str) or purpose not in config.allowed_purposes:
        raise RequestError(f"purpose is invalid: {purpose!r}")
    if not isinstance(part, UploadFile) or not part.filename:
        raise RequestError("file is required (a multipart part with a filename)")
    extension = file_extension(part.filename)
    if extension not in config.allowed_extensions:
        raise RequestError(f"file format not supported: {part.filename!r}")
    data = await part.read()
    if len(data) > config.max_bytes:
        raise RequestError(f"file size exceeds the limit of {config.max_bytes} bytes", "435", 435)
    if not data:
        raise RequestError("file content is empty")
    if len(state.live_files(call.owner)) >= config.max_files:
        raise RequestError(
            f"file count limit reached ({config.max_files} files); delete files first"
        )
    stored = _store(state, call.owner, part.filename, purpose, data)
    state.counters.uploads += 1
    return json_response(_wire(stored))


def _name(part: object) -> str | None:
    return part.filename if isinstance(part, UploadFile) else None


def _store(state: SimState, owner: str, filename: str, purpose: str, data: bytes) -> StoredFile:
    try:
        terms: tuple[tuple[str, str], ...] | None = parse_glossary(filename, data)
        error = ""
    except GlossaryFileError as exc:
        terms, error = None, str(exc)
    stored = StoredFile(
        id=state.new_file_id(),
        owner=owner,
        filename=filename,
        size=len(data),
        purpose=purpose,
        created_at=state.clock.now(),
        terms=terms,
        parse_error=error,
    )
    state.files[stored.id] = stored
    return stored


def _wire(stored: StoredFile) -> dict[str, object]:
    return file_object(
        file_id=stored.id,
        size=stored.size,
        filename=stored.filename,
        purpose=stored.purpose,
        created_at=int(stored.created_at),
    )


async def list_files(call: Call) -> Response:
    """Newest first; `after` is the last id of the previous page (an unknown id: empty page)."""
    params = call.request.query_params
    state = call.state
    state.record("files_list", call.owner, dict(params))
    limit = _limit(params.get("limit"))
    if params.get("order", "created_at") != "created_at":
        raise RequestError(f"order is invalid: {params.get('order')!r}")
    purpose = params.get("purpose")
    rows = [
        f for f in reversed(state.live_files(call.owner)) if not purpose or f.purpose == purpose
    ]
    if after := params.get("after"):
        ids = [f.id for f in rows]
        rows = rows[ids.index(after) + 1 :] if after in ids else []
    page = rows[:limit]
    return json_response(
        {"object": "list", "data": [_wire(f) for f in page], "has_more": len(rows) > limit}
    )


def _limit(raw: str | None) -> int:
    if raw is None:
        return 20
    if not raw.isdigit() or not 1 <= int(raw) <= _MAX_LIST_LIMIT:
        raise RequestError(f"limit is invalid: {raw!r} (1-{_MAX_LIST_LIMIT})")
    return int(raw)


async def delete_file(call: Call) -> Response:
    state = call.state
    file_id = call.request.url.path.rstrip("/").rsplit("/", 1)[-1]
    state.record("files_delete", call.owner, {"id": file_id})
    if state.find_file(file_id, call.owner) is None:
        return error_response(state, 404, "1214", f"File not found: {file_id!r}")
    del state.files[file_id]
    state.counters.deletes += 1
    return json_response({"id": file_id, "object": "file", "deleted": True})
