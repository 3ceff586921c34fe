"""Turn one validated request into one outcome event per target language."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

from service.pipeline.contracts import (
    Segment,
    Timings,
    TranslationCompletedV1,
    TranslationFailedV1,
    TranslationRequestV1,
    UsageV1,
)
from service.pipeline.events import event_id
from service.zai import TranslateRequest, Translation, ZaiError

Outcome = TranslationCompletedV1 | TranslationFailedV1


class Translator(Protocol):
    async def translate(self, request: TranslateRequest) -> Translation: ...


async def translate_request(req: TranslationRequestV1, translator: Translator) -> list[Outcome]:
    """Translate into every target language concurrently; one failure does not sink the others."""
    return list(
        await asyncio.gather(*(_one_language(req, lang, translator) for lang in req.target_langs))
    )


async def _one_language(req: TranslationRequestV1, lang: str, translator: Translator) -> Outcome:
    started = time.perf_counter()
    texts = [req.text] if req.text is not None else [s.text for s in req.segments or []]
    try:
        results = [await translator.translate(_upstream(req, lang, t)) for t in texts]
    except ZaiError as exc:
        return TranslationFailedV1(
            event_id=event_id(req.tenant_id, req.request_id, lang),
            request_id=req.request_id,
            tenant_id=req.tenant_id,
            source_lang=req.source_lang,
            target_lang=lang,
            error_code=exc.error_code,
            message=exc.message,
            retryable=exc.retryable,
            upstream_code=exc.code,
            metadata=req.metadata,
        )
    elapsed_ms = int((time.perf_counter() - started) * 1000)
    return TranslationCompletedV1(
        event_id=event_id(req.tenant_id, req.request_id, lang),
        request_id=req.request_id,
        tenant_id=req.tenant_id,
        source_lang=req.source_lang,
        target_lang=lang,
        text=results[0].text if req.text is not None else None,
        segments=_segments(req, results),
        strategy=req.strategy,
        usage=_usage(results),
        timings=Timings(upstream_ms=elapsed_ms, total_ms=elapsed_ms),
        metadata=req.metadata,
    )


def _upstream(req: TranslationRequestV1, lang: str, text: str) -> TranslateRequest:
    return TranslateRequest(
        text=text,
        target_lang=lang,
        source_lang=req.source_lang,
        strategy=req.strategy,
        suggestion=req.instructions,
    )


def _segments(req: TranslationRequestV1, results: list[Translation]) -> list[Segment] | None:
    if req.segments is None:
        return None
    return [Segment(id=s.id, text=r.text) for s, r in zip(req.segments, results, strict=True)]


def _usage(results: list[Translation]) -> UsageV1:
    return UsageV1(
        prompt_tokens=sum(r.usage.prompt_tokens for r in results),
        completion_tokens=sum(r.usage.completion_tokens for r in results),
        total_tokens=sum(r.usage.total_tokens for r in results),
        upstream_calls=sum(r.attempts for r in results),
    )
