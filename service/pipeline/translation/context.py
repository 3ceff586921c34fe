"""Everything a job's languages share, resolved once per job before any upstream call.

Resolution is where misconfiguration shows: a credential that cannot be decrypted, a glossary
that does not exist or whose pinned version is gone. Such a problem is kept on the context and
fails every language at once with its own code; retrying would not help. A budget refusal
(service.pipeline.jobs.budget) is kept the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from service.errors import (
    CredentialInvalid,
    GlossaryNotFound,
    GlossarySourceMismatch,
    GlossaryVersionMissing,
    UnsupportedPair,
)
from service.glossary.model import GlossaryDocument
from service.l10n.compliance import Policy
from service.l10n.segment import GlossaryContext
from service.pipeline.contract.messages import TranslationRequestV1
from service.pipeline.contract.resource import OpenedFile, open_file
from service.pipeline.durable import Durable
from service.pipeline.ports import (
    ClaimedJob,
    Glossaries,
    GlossaryPin,
    Held,
    Tenants,
    Translator,
)

# Transcriptions are outputs only: the agent does not translate *from* them.
_TARGET_ONLY = frozenset(["Pinyin", "IPA"])
_NONE: Mapping[str, str] = MappingProxyType({})


@dataclass
class JobContext:
    """A job ready to run: resolved whole by `resolve` (or refused there), changed by nobody
    after; the glossary document and its matcher are loaded once, when first needed."""

    job: ClaimedJob
    translator: Translator
    glossary: GlossaryPin | None
    policy: Policy
    glossaries: Glossaries
    durable: Durable
    file: OpenedFile | None = None
    estimate: Held | None = None  # the budget's reservation per language, if any
    _document: GlossaryDocument | None = field(default=None, repr=False)
    _glossary_ctx: GlossaryContext | None = field(default=None, repr=False)

    @property
    def request(self) -> TranslationRequestV1:
        return self.job.request

    @property
    def sources(self) -> list[tuple[str, str]]:
        """(id, text) of every unit to translate, in input order."""
        req = self.request
        if req.text is not None:
            return [("text", req.text)]
        if self.file is not None:
            return [(u.id, u.text) for u in self.file.units]
        return [(s.id, s.text) for s in req.segments or []]

    def async_ids(self, lang: str) -> Mapping[str, str]:
        """The async ids stored for `lang` when the job was claimed, by call key."""
        for target in self.job.targets:
            if target.lang == lang:
                return target.async_ids
        return _NONE

    async def document(self) -> GlossaryDocument:
        assert self.glossary is not None
        if self._document is None:  # loaded once, shared by all target languages
            pin, glossaries = self.glossary, self.glossaries
            self._document = await self.durable("glossary", lambda: glossaries.document(pin))
        return self._document

    async def glossary_context(self) -> GlossaryContext | None:
        if self.glossary is None:
            return None
        if self._glossary_ctx is None:
            self._glossary_ctx = GlossaryContext.of(await self.document())
        return self._glossary_ctx


def unsupported_pair(source: str, target: str) -> UnsupportedPair | None:
    """Pairs the agent is not for: into the same language, or from a transcription."""
    if source == target:
        return UnsupportedPair(f"source and target are both {source!r}")
    if source in _TARGET_ONLY:
        return UnsupportedPair(f"{source!r} is a transcription; it can only be a target")
    return None


async def resolve(
    job: ClaimedJob,
    *,
    tenants: Tenants,
    glossaries: Glossaries,
    default_policy: Policy,
    durable: Durable,
) -> JobContext:
    """The job's context; raises `Misconfigured` (no retry helps) if the job cannot run."""
    request = job.request
    policy = await _policy(request, tenants, default_policy, durable)
    translator = await durable("tenant credential", lambda: tenants.translator(job.tenant_id))
    return JobContext(
        job=job,
        translator=translator,
        glossary=await _glossary(job, glossaries, durable),
        policy=policy,
        glossaries=glossaries,
        durable=durable,
        file=open_file(request.file) if request.file else None,
    )


async def _policy(
    request: TranslationRequestV1, tenants: Tenants, default: Policy, durable: Durable
) -> Policy:
    """The request's own policy, else the tenant's, else the service default."""
    if request.qa_policy:
        return Policy(request.qa_policy)
    tenant = await durable("tenant policy", lambda: tenants.policy(request.tenant_id))
    return tenant or default


async def _glossary(
    job: ClaimedJob, glossaries: Glossaries, durable: Durable
) -> GlossaryPin | None:
    request = job.request
    if job.glossary_id is None or job.glossary_version is None:
        if request.glossary:
            raise GlossaryNotFound(
                f"glossary {request.glossary!r} not found for tenant {job.tenant_id!r}"
            )
        return None
    glossary_id, number = job.glossary_id, job.glossary_version
    pin = await durable("glossary pin", lambda: glossaries.pinned(glossary_id, number))
    if pin is None:
        raise GlossaryVersionMissing(f"version {number} of the pinned glossary no longer exists")
    if request.source_lang not in ("auto", pin.source_lang):
        if request.glossary:
            raise GlossarySourceMismatch(
                f"glossary is for source {pin.source_lang}, not {request.source_lang}"
            )
        return None  # the tenant default simply does not apply
    return pin


__all__ = ["CredentialInvalid", "JobContext", "resolve", "unsupported_pair"]
