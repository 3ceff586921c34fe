"""The upstream translator, in the core's own terms: a call, its result, a task still running,
an uploaded file. The Z.ai adapter (`service.zai`) implements `Translator`; its own types
extend these (with Z.ai's ids and finish reason), so what it returns is handed over as is. A
call that fails for good raises `service.errors.UpstreamError`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class UpstreamRequest:
    """One translation call: the text, the pair, the glossary file and the strategy."""

    text: str
    target_lang: str
    source_lang: str = "auto"
    glossary: str | None = None  # an uploaded file's id
    strategy: str = "general"
    suggestion: str | None = None  # instructions and glossary hints for this call


@dataclass(frozen=True)
class TokenUsage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


@dataclass(frozen=True)
class UpstreamTranslation:
    """A finished call: the text, the tokens it cost, and the HTTP calls it took."""

    text: str
    usage: TokenUsage
    attempts: int  # submits, retries included
    polls: int  # async-result polls


@dataclass(frozen=True)
class UpstreamTask:
    """A call answered later: poll `async_id` (stored first, so a restart resumes it)."""

    async_id: str


@dataclass(frozen=True)
class UpstreamFile:
    """An uploaded file (a compiled glossary)."""

    id: str


class Translator(Protocol):
    """One upstream account: its translation agent and file API (`service.zai.ZaiClient`,
    directly or through Truto's proxy)."""

    @property
    def key_fingerprint(self) -> str:
        """A stable, non-secret id of the account (the upload cache keys files by it)."""
        ...

    async def submit(self, request: UpstreamRequest) -> UpstreamTranslation | UpstreamTask: ...

    async def poll(self, async_id: str, *, glossary: str | None = None) -> UpstreamTranslation:
        """The task's result; `glossary`: the file id it was submitted with, so a refusal of
        that file raises an UpstreamError whose `file_refused` is set."""
        ...

    async def upload_file(self, filename: str, content: bytes) -> UpstreamFile: ...

    async def can_delete_files(self) -> bool:
        """False where the connection offers no file delete (Truto's proxy): no eviction."""
        ...

    async def delete_file(self, file_id: str) -> bool:
        """False if the file was unknown or not deleted."""
        ...

    async def count_tokens(
        self, text: str, *, retry: bool = True, http_timeout: float | None = None
    ) -> int:
        """The tokens of `text` as one user message; `retry=False`: one attempt only, and
        `http_timeout` seconds at most (an estimate is not worth a long wait)."""
        ...

    async def aclose(self) -> None:
        """Close the connections (whoever made the translator does)."""
        ...
