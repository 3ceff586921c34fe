"""Kafka security settings and the aiokafka keyword arguments the composition root builds."""

from __future__ import annotations

import ssl

import certifi
import pytest
from pydantic import ValidationError

from service.bootstrap import kafka_security
from service.config import Settings

pytestmark = pytest.mark.deploy


def test_defaults_keep_a_plain_connection() -> None:
    assert kafka_security(Settings()) == {"security_protocol": "PLAINTEXT"}


def test_sasl_ssl_with_scram_and_a_private_ca() -> None:
    settings = Settings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="l10n",
        kafka_sasl_password="s3cret",
        kafka_ssl_cafile=certifi.where(),
    )
    kwargs = kafka_security(settings)
    context = kwargs.pop("ssl_context")
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert kwargs == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "l10n",
        "sasl_plain_password": "s3cret",
    }
    assert "s3cret" not in repr(settings)


def test_ssl_without_a_ca_file_trusts_the_system() -> None:
    kwargs = kafka_security(Settings(kafka_security_protocol="SSL"))
    assert kwargs["security_protocol"] == "SSL"
    assert isinstance(kwargs["ssl_context"], ssl.SSLContext)
    assert "sasl_mechanism" not in kwargs


def test_sasl_plaintext_has_no_tls() -> None:
    kwargs = kafka_security(
        Settings(
            kafka_security_protocol="SASL_PLAINTEXT",
            kafka_sasl_username="u",
            kafka_sasl_password="p",
        )
    )
    assert kwargs["sasl_mechanism"] == "PLAIN" and "ssl_context" not in kwargs


@pytest.mark.parametrize("missing", ["kafka_sasl_username", "kafka_sasl_password"])
def test_sasl_needs_both_credentials(missing: str) -> None:
    values = {
        "kafka_security_protocol": "SASL_SSL",
        "kafka_sasl_username": "u",
        "kafka_sasl_password": "p",
    }
    del values[missing]
    with pytest.raises(ValidationError, match="KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"):
        Settings(**values)


def test_unknown_protocol_or_mechanism_is_refused() -> None:
    with pytest.raises(ValidationError):
        Settings(kafka_security_protocol="TLS")
    with pytest.raises(ValidationError):
        Settings(kafka_sasl_mechanism="GSSAPI")
