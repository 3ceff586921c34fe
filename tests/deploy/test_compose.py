"""docker-compose.yml: valid Compose, and in agreement with the settings class and the CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from service.config import Settings
from tests.deploy.support import ROOT, SETTING_NAMES, cli_commands

pytestmark = pytest.mark.deploy

COMPOSE_FILE = ROOT / "docker-compose.yml"
SCHEMA = json.loads((Path(__file__).parent / "compose-spec.json").read_text())
APP_SERVICES = {"migrate", "sim", "worker", "api"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())  # resolves the << merges
    return data


def env(service: dict[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in (service.get("environment") or {}).items()}


def test_matches_the_compose_specification(compose: dict[str, Any]) -> None:
    validator_cls = jsonschema.validators.validator_for(SCHEMA)
    validator_cls.check_schema(SCHEMA)
    errors = sorted(validator_cls(SCHEMA).iter_errors(compose), key=lambda e: list(e.path))
    assert [f"{list(e.path)}: {e.message}" for e in errors] == []


def test_the_schema_is_strict_enough_to_catch_a_typo(compose: dict[str, Any]) -> None:
    broken = json.loads(json.dumps(compose))
    broken["services"]["worker"]["depends_onn"] = broken["services"]["worker"].pop("depends_on")
    assert not jsonschema.validators.validator_for(SCHEMA)(SCHEMA).is_valid(broken)


def test_services(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"kafka", "topics", "postgres", *APP_SERVICES}
    kafka = services["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    assert set(env(kafka)["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}  # KRaft
    assert env(kafka)["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert services["postgres"]["image"].startswith("postgres:")
    for name in ("kafka", "postgres", "sim", "worker", "api"):
        assert services[name]["healthcheck"]["test"], name


def test_app_services_run_the_image_with_existing_commands(compose: dict[str, Any]) -> None:
    commands = cli_commands()
    for name in APP_SERVICES:
        service = compose["services"][name]
        build = service["build"]
        assert (ROOT / build["context"] / build["dockerfile"]).is_file()
        assert service["command"][0] == "zai-l10n"
        assert service["command"][1] in commands, name
        assert service["read_only"] is True and service["cap_drop"] == ["ALL"]
    assert compose["services"]["worker"]["command"] == ["zai-l10n", "worker"]
    assert compose["services"]["api"]["command"] == ["zai-l10n", "api"]
    assert compose["services"]["migrate"]["command"] == ["zai-l10n", "migrate"]
    assert compose["services"]["sim"]["command"][:2] == ["zai-l10n", "sim"]


def test_environment_names_are_settings(compose: dict[str, Any]) -> None:
    """One source of truth: a renamed setting fails here, not in production."""
    for name in [*APP_SERVICES, "topics"]:
        unknown = set(env(compose["services"][name])) - SETTING_NAMES
        assert unknown == set(), f"{name}: {unknown} are not settings of service/config.py"
    for name in ("worker", "api"):
        e = env(compose["services"][name])
        assert e["DATABASE_AUTO_MIGRATE"] == "false"  # the migrate service does it
        assert e["DATABASE_URL"].startswith("postgresql+asyncpg://")
        assert e["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
        Settings.model_validate({k.lower(): v for k, v in e.items() if "${" not in v})


def test_topics_are_created_with_the_settings_names_and_partitions(compose: dict[str, Any]) -> None:
    topics = compose["services"]["topics"]
    e = env(topics)
    fields = Settings.model_fields
    for name in (
        "TOPIC_REQUESTS",
        "TOPIC_RESULTS",
        "TOPIC_DLQ",
        "TOPIC_GLOSSARY_EVENTS",
        "TOPIC_PARTITIONS",
    ):
        assert e[name] == str(fields[name.lower()].default), name
        # The app services see the same values as the topics were created with.
        assert env(compose["services"]["worker"])[name] == e[name]
        assert env(compose["services"]["api"])[name] == e[name]
    script = "\n".join(topics["command"])
    created = re.findall(r'create "\$\$(\w+)" "?\$?\$?(\w+)"?', script)
    assert dict(created) == {
        "TOPIC_REQUESTS": "TOPIC_PARTITIONS",
        "TOPIC_RESULTS": "TOPIC_PARTITIONS",
        "TOPIC_DLQ": "1",
        "TOPIC_GLOSSARY_EVENTS": "1",
    }
    assert "--if-not-exists" in script


def test_start_order(compose: dict[str, Any]) -> None:
    s = compose["services"]
    conditions = {
        name: {k: v["condition"] for k, v in s[name].get("depends_on", {}).items()} for name in s
    }
    assert conditions["topics"] == {"kafka": "service_healthy"}
    assert conditions["migrate"] == {"postgres": "service_healthy"}
    assert conditions["worker"] == {
        "kafka": "service_healthy",
        "topics": "service_completed_successfully",
        "migrate": "service_completed_successfully",
        "sim": "service_healthy",
    }
    assert conditions["api"] == {
        "kafka": "service_healthy",
        "topics": "service_completed_successfully",
        "migrate": "service_completed_successfully",
    }


def test_health_checks_probe_the_configured_ports(compose: dict[str, Any]) -> None:
    s = compose["services"]
    worker, api = env(s["worker"]), env(s["api"])
    assert worker["WORKER_HTTP_HOST"] == api["API_HOST"] == "0.0.0.0"
    assert f":{worker['WORKER_HTTP_PORT']}/readyz" in " ".join(s["worker"]["healthcheck"]["test"])
    assert f":{api['API_PORT']}/readyz" in " ".join(s["api"]["healthcheck"]["test"])
    sim_port = s["sim"]["command"][s["sim"]["command"].index("--port") + 1]
    assert worker["SIM_HOST"] == "sim" and worker["SIM_PORT"] == sim_port
    assert f":{sim_port}/_sim/health" in " ".join(s["sim"]["healthcheck"]["test"])


def test_the_simulator_is_used_unless_a_key_is_set(compose: dict[str, Any]) -> None:
    worker = env(compose["services"]["worker"])
    assert worker["ZAI_API_KEY"] == "${ZAI_API_KEY:-}"  # empty counts as unset (env_ignore_empty)
    assert Settings(zai_api_key=None).uses_simulator


def test_worker_stops_after_its_drain_deadline(compose: dict[str, Any]) -> None:
    worker = compose["services"]["worker"]
    grace = re.fullmatch(r"(\d+)s", worker["stop_grace_period"])
    assert grace is not None
    assert int(grace.group(1)) > float(env(worker)["WORKER_GRACEFUL_TIMEOUT"])
