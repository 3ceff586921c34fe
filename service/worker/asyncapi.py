"""The AsyncAPI document of our topics, generated from the contract models in the code."""

from __future__ import annotations

from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI

from service.config import Settings
from service.glossary.events import GlossaryUpdatedV1
from service.pipeline.contract.messages import (
    TYPE_COMPLETED,
    TYPE_FAILED,
    DeadLetterV1,
    TranslationCompletedV1,
    TranslationFailedV1,
    TranslationRequestV1,
)

VERSION = "1.0.0"


def asyncapi_json(settings: Settings) -> str:
    # A broker used only for its specification: it is never started.
    broker = KafkaBroker(settings.kafka_bootstrap_servers)
    results = settings.topic_results
    broker.publisher(
        results,
        title=TYPE_COMPLETED,
        description="One per (request, target language) that succeeded. Key: tenant id.",
        schema=TranslationCompletedV1,
    )
    broker.publisher(
        results,
        title=TYPE_FAILED,
        description="One per (request, target language) that failed, with the error code.",
        schema=TranslationFailedV1,
    )
    broker.publisher(
        settings.topic_dlq,
        title="translation.request.dead_lettered",
        description="Requests that could not be decoded or validated, with the original bytes.",
        schema=DeadLetterV1,
    )
    broker.publisher(
        settings.topic_glossary_events,
        title="glossary.updated",
        description="Every glossary change made through the admin API or an import.",
        schema=GlossaryUpdatedV1,
    )

    @broker.subscriber(
        settings.topic_requests,
        title="translation.requests",
        description="Translation requests from platform teams. Key: tenant id. A tenant that "
        "requires signed requests accepts only those with a `zai-l10n-signature: "
        "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t.body)>` header (docs/events.md); "
        "others are dead-lettered as request.unauthenticated.",
    )
    async def requests(body: TranslationRequestV1) -> None:  # documentation only
        return None

    spec = AsyncAPI(
        broker,
        title="zai-l10n events",
        version=VERSION,
        description="Kafka topics of zai-l10n. Headers follow the CloudEvents 1.0 Kafka binding.",
    )
    return spec.to_specification().to_json()
