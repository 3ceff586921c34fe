"""Kafka clients: aiokafka producers, consumers and admin clients, and FastStream's broker, all
with the configured servers and security."""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.helpers import create_ssl_context
from faststream.kafka import KafkaBroker
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from service.config import KafkaSaslMechanism, KafkaSecurityProtocol, Settings

# Any non-empty key passes the simulator when it runs without --api-key.


def kafka_security(settings: Settings) -> dict[str, Any]:
    """Security keyword arguments for every aiokafka producer, consumer and admin client."""
    protocol = settings.kafka_security_protocol
    kwargs: dict[str, Any] = {"security_protocol": protocol.value}
    if protocol in (KafkaSecurityProtocol.SSL, KafkaSecurityProtocol.SASL_SSL):
        kwargs["ssl_context"] = create_ssl_context(cafile=settings.kafka_ssl_cafile)
    if protocol in (KafkaSecurityProtocol.SASL_PLAINTEXT, KafkaSecurityProtocol.SASL_SSL):
        assert settings.kafka_sasl_password is not None  # checked by the settings validator
        kwargs["sasl_mechanism"] = settings.kafka_sasl_mechanism.value
        kwargs["sasl_plain_username"] = settings.kafka_sasl_username
        kwargs["sasl_plain_password"] = settings.kafka_sasl_password.get_secret_value()
    return kwargs


def kafka_producer(settings: Settings, **options: Any) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        enable_idempotence=True,
        **kafka_security(settings),
        **options,
    )


def kafka_consumer(settings: Settings, *topics: str, **options: Any) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        **kafka_security(settings),
        **options,
    )


def kafka_admin(settings: Settings) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap_servers, **kafka_security(settings)
    )


def faststream_broker(settings: Settings, **options: Any) -> KafkaBroker:
    """A FastStream broker with the same servers and security as the aiokafka clients above
    (`zai-l10n translate` publishes and subscribes through it). Quiet: no per-message logs."""
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        security=_faststream_security(settings),
        client_id="zai-l10n-cli",
        logger=None,
        **options,
    )


def _faststream_security(settings: Settings) -> BaseSecurity | None:
    protocol = settings.kafka_security_protocol
    tls = protocol in (KafkaSecurityProtocol.SSL, KafkaSecurityProtocol.SASL_SSL)
    context = create_ssl_context(cafile=settings.kafka_ssl_cafile) if tls else None
    if protocol in (KafkaSecurityProtocol.PLAINTEXT, KafkaSecurityProtocol.SSL):
        return BaseSecurity(ssl_context=context) if tls else None
    assert settings.kafka_sasl_password is not None  # checked by the settings validator
    kind = {
        KafkaSaslMechanism.PLAIN: SASLPlaintext,
        KafkaSaslMechanism.SCRAM_SHA_256: SASLScram256,
        KafkaSaslMechanism.SCRAM_SHA_512: SASLScram512,
    }[settings.kafka_sasl_mechanism]
    return kind(
        settings.kafka_sasl_username or "",
        settings.kafka_sasl_password.get_secret_value(),
        ssl_context=context,
        use_ssl=tls,
    )


def request_consumer(settings: Settings) -> AIOKafkaConsumer:
    """The worker's consumer of the requests topic: offsets committed by hand after persisting."""
    return kafka_consumer(
        settings,
        group_id=settings.kafka_group_id,
        client_id="zai-l10n-worker",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=settings.worker_batch_size,
    )
