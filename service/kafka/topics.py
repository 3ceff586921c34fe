"""Create the service's topics up front, with the partition counts parallelism needs."""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from service.config import Settings

logger = logging.getLogger(__name__)


def topic_specs(settings: Settings) -> dict[str, int]:
    """Topic name -> partitions. Results are keyed by tenant too, so they get the same count."""
    return {
        settings.topic_requests: settings.topic_partitions,
        settings.topic_results: settings.topic_partitions,
        settings.topic_dlq: 1,
        settings.topic_glossary_events: 1,
    }


async def ensure_topics(
    make_admin: Callable[[], AIOKafkaAdminClient], specs: dict[str, int]
) -> None:
    admin = make_admin()
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(name, num_partitions=n, replication_factor=1)
            for name, n in specs.items()
            if name not in existing
        ]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass  # another worker won the race
            logger.info("created topics", extra={"topics": [t.name for t in missing]})
    finally:
        await admin.close()
