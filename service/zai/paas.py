"""The calls on Z.ai's paas base URL: the tokenizer and the file API (glossary uploads)."""

from __future__ import annotations

from typing import Any

from service.zai.errors import ZaiFileNotFound, ZaiInvalidRequest
from service.zai.http import Exchanges, file_refusal, new_request_id
from service.zai.models import UPLOAD_EXTENSIONS, FileObject
from service.zai.replies import parse_deleted, parse_file, parse_file_list, parse_token_count
from service.zai.retry import RetryPolicy


class PaasCalls:
    """Part of `ZaiClient` (its base class), over the client's exchanges."""

    _x: Exchanges
    files_base_url: str
    tokenizer_model: str

    # --- tokens ------------------------------------------------------------------------------

    async def count_tokens(
        self, text: str, *, retry: bool = True, http_timeout: float | None = None
    ) -> int:
        """Z.ai's count of `text` as one user message (`POST {paas}/tokenizer`, usage out).

        Errors are classified and retried like every other call; `retry=False` (one attempt)
        and `http_timeout` (seconds) override the client's for this call: an estimate is not
        worth a long wait.
        """
        if not text.strip():
            raise ZaiInvalidRequest("text must not be empty")
        rid = new_request_id()
        url = f"{self.files_base_url}/tokenizer"
        extra: dict[str, Any] = {} if http_timeout is None else {"timeout": http_timeout}

        async def attempt(n: int, key: str) -> int:
            # Z.ai's docs make `request_id` unique per request (a reused one is 1231): a fresh
            # one per retry, as for the agent.
            body = {
                "model": self.tokenizer_model,
                "messages": [{"role": "user", "content": text}],
                "request_id": rid if n == 1 else f"{rid}-{n}",
            }
            reply = await self._x.exchange("POST", "tokenizer", url, rid, key, json=body, **extra)
            return parse_token_count(reply)

        return await self._x.with_retries(
            "tokenizer", rid, attempt, None if retry else RetryPolicy.none()
        )

    # --- files -------------------------------------------------------------------------------

    async def upload_file(
        self, filename: str, content: bytes, *, purpose: str = "agent"
    ) -> FileObject:
        """Upload a file (e.g. a glossary) as multipart/form-data."""
        if not filename.strip() or not content:
            raise ZaiInvalidRequest("filename and content must not be empty")
        if filename.rsplit(".", 1)[-1].lower() not in UPLOAD_EXTENSIONS:
            raise ZaiInvalidRequest(
                f"Z.ai accepts only {', '.join(sorted(UPLOAD_EXTENSIONS))} files, not {filename!r}"
            )
        rid = new_request_id()
        url = f"{self.files_base_url}/files"
        parts = {"file": (filename, content, "application/octet-stream")}

        async def attempt(n: int, key: str) -> FileObject:
            reply = await self._x.exchange(
                "POST", "files_upload", url, rid, key, data={"purpose": purpose}, files=parts
            )
            return parse_file(reply)

        return await self._x.with_retries("files_upload", rid, attempt)

    async def list_files(
        self, *, purpose: str = "agent", limit: int = 100, after: str | None = None
    ) -> tuple[list[FileObject], bool]:
        """One page of files and whether more follow (pass the last id as ``after``)."""
        if not 1 <= limit <= 100:
            raise ZaiInvalidRequest("limit must be within 1..100")
        rid = new_request_id()
        params: dict[str, str | int] = {"purpose": purpose, "limit": limit}
        if after is not None:
            params["after"] = after

        async def attempt(n: int, key: str) -> tuple[list[FileObject], bool]:
            url = f"{self.files_base_url}/files"
            reply = await self._x.exchange("GET", "files_list", url, rid, key, params=params)
            return parse_file_list(reply)

        return await self._x.with_retries("files_list", rid, attempt)

    async def delete_file(self, file_id: str) -> bool:
        """Delete a file; False if Z.ai reports it unknown or did not delete it."""
        if not file_id.strip():
            raise ZaiInvalidRequest("file_id must not be empty")
        rid = new_request_id()
        url = f"{self.files_base_url}/files/{file_id}"

        async def attempt(n: int, key: str) -> bool:
            with file_refusal(file_id):
                return parse_deleted(
                    await self._x.exchange("DELETE", "files_delete", url, rid, key)
                )

        try:
            return await self._x.with_retries("files_delete", rid, attempt)
        except ZaiFileNotFound:
            return False
