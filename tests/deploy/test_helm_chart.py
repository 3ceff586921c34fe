"""The Helm chart, rendered by a pinned helm and checked offline (no cluster)."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate.utils as kv
import pytest
import yaml

from service.config import Settings
from tests.deploy.support import (
    CHART,
    CHART_MANAGED_SETTINGS,
    EXAMPLE_VALUES,
    PYPROJECT,
    SECRET_SETTINGS,
    SETTING_NAMES,
    HelmError,
    Render,
    cli_commands,
    find,
    one,
    pod_specs,
)

pytestmark = pytest.mark.deploy

CHART_META = yaml.safe_load((CHART / "Chart.yaml").read_text())
VALUES = yaml.safe_load((CHART / "values.yaml").read_text())
SCHEMA = json.loads((CHART / "values.schema.json").read_text())

# Value sets rendered by most tests: the defaults, the production example, and the optional parts.
VARIANTS: dict[str, tuple[tuple[str, ...], Path | None]] = {
    "default": ((), None),
    "production": ((), EXAMPLE_VALUES),
    "keda": (("--set", "worker.keda.enabled=true"), None),
    "worker-hpa+servicemonitor": (
        (
            "--set",
            "worker.autoscaling.enabled=true",
            "--set",
            "metrics.serviceMonitor.enabled=true",
        ),
        None,
    ),
    "chart-secret": (
        (
            "--set",
            "secret.values.DATABASE_URL=postgresql+asyncpg://u:p@db/x",
            "--set",
            "secret.values.ZAI_API_KEY=k",
        ),
        None,
    ),
}
# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest schemas we have.
KUBE_VERSIONS = ["1.29", kv.latest_version()]
# Custom resources: no bundled schema; their fields are asserted by the tests below.
CRD_KINDS = {"ScaledObject", "TriggerAuthentication", "ServiceMonitor"}


def variant(render: Render, name: str) -> list[dict[str, Any]]:
    args, values_file = VARIANTS[name]
    return render(*args, values_file=values_file)


def container(doc: dict[str, Any]) -> dict[str, Any]:
    (c,) = doc["spec"]["template"]["spec"]["containers"]
    return c


@pytest.mark.parametrize("values_file", [None, EXAMPLE_VALUES], ids=["default", "production"])
def test_helm_lint_strict(helm: str, values_file: Path | None) -> None:
    cmd = [helm, "lint", "--strict", str(CHART)]
    if values_file:
        cmd += ["-f", str(values_file)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize("name", list(VARIANTS))
def test_rendered_manifests_match_the_kubernetes_schemas(
    render: Render, name: str, kube_version: str
) -> None:
    args, values_file = VARIANTS[name]
    docs = render(*args, "--kube-version", kube_version, values_file=values_file)
    assert docs
    unchecked = set()
    for doc in docs:
        try:
            kv.validate(doc, kube_version, strict=True)
        except kv.SchemaNotFoundError:
            unchecked.add(doc["kind"])
        except kv.ValidationError as e:
            pytest.fail(f"{doc['kind']}/{doc['metadata']['name']}: {e}")
    assert unchecked <= CRD_KINDS


def test_kube_version_floor_is_enforced(render: Render) -> None:
    with pytest.raises(HelmError, match="kubeVersion"):
        render("--kube-version", "1.28")


@pytest.mark.parametrize("name", list(VARIANTS))
def test_every_container_has_probes(render: Render, name: str) -> None:
    docs = variant(render, name)
    expected = {
        "worker": ("/livez", "/livez", "/readyz"),
        "api": ("/healthz", "/healthz", "/readyz"),
    }
    for component, paths in expected.items():
        c = container(one(docs, "Deployment", f"-{component}"))
        got = tuple(
            c[p]["httpGet"]["path"] for p in ("startupProbe", "livenessProbe", "readinessProbe")
        )
        assert got == paths
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        for p in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert c[p]["httpGet"]["port"] in ports
            assert c[p]["timeoutSeconds"] >= 1
        assert c["resources"]["requests"]["cpu"] and c["resources"]["limits"]["memory"]


@pytest.mark.parametrize("name", list(VARIANTS))
def test_pods_run_as_non_root_on_a_read_only_filesystem(render: Render, name: str) -> None:
    docs = variant(render, name)
    specs = pod_specs(docs)
    kinds = {k.split("/")[0] for k, _ in specs}
    assert {"Deployment", "Job", "Pod"} <= kinds  # worker, api, migrations, helm test
    for where, spec in specs:
        psc = spec["securityContext"]
        assert psc["runAsNonRoot"] is True, where
        assert psc["runAsUser"] != 0, where
        assert psc["seccompProfile"]["type"] == "RuntimeDefault", where
        assert spec["automountServiceAccountToken"] is False, where
        for c in spec["containers"]:
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, where
            assert sc["allowPrivilegeEscalation"] is False, where
            assert sc["capabilities"]["drop"] == ["ALL"], where
            assert "add" not in sc["capabilities"], where
            assert not sc.get("privileged"), where
            # A read-only root needs a writable /tmp for the service (uploads spill there).
            if not where.startswith("Pod/"):
                assert "/tmp" in {m["mountPath"] for m in c.get("volumeMounts", [])}, where


@pytest.mark.parametrize(
    "override",
    ["podSecurityContext.runAsNonRoot=false", "securityContext.readOnlyRootFilesystem=false"],
)
def test_values_schema_refuses_root_or_a_writable_root_filesystem(
    render: Render, override: str
) -> None:
    with pytest.raises(HelmError, match="schema"):
        render("--set", override)


SENTINELS = {name: f"sentinel-{name.lower()}-value" for name in sorted(SECRET_SETTINGS)}


def test_secrets_only_by_reference(render: Render) -> None:
    args: list[str] = []
    for name, value in SENTINELS.items():
        args += ["--set", f"secret.values.{name}={value}"]
    docs = render(
        *args,
        "--set",
        "worker.keda.enabled=true",
        "--set",
        "config.KAFKA_SECURITY_PROTOCOL=SASL_SSL",
    )
    encoded = {base64.b64encode(v.encode()).decode() for v in SENTINELS.values()}
    for doc in docs:
        text = yaml.safe_dump(doc)
        if doc["kind"] == "Secret":
            continue
        for value in [*SENTINELS.values(), *encoded]:
            assert value not in text, (
                f"a secret value leaks into {doc['kind']}/{doc['metadata']['name']}"
            )
    secret = one(docs, "Secret", "r1-zai-l10n")
    assert set(secret["data"]) == SECRET_SETTINGS
    assert base64.b64decode(secret["data"]["ZAI_API_KEY"]).decode() == SENTINELS["ZAI_API_KEY"]
    # ... and every secret setting reaches the pods as a secretKeyRef, never as a value.
    for where, spec in pod_specs(docs):
        for c in spec["containers"]:
            for env in c.get("env", []):
                if env["name"] in SECRET_SETTINGS:
                    assert "value" not in env, f"{where}: {env['name']}"
                    assert env["valueFrom"]["secretKeyRef"]["name"], where
            for source in c.get("envFrom", []):
                assert "configMapRef" in source or "secretRef" in source
    cm = one(docs, "ConfigMap")
    assert not set(cm["data"]) & SECRET_SETTINGS


def test_existing_secrets_render_no_secret_and_are_referenced(render: Render) -> None:
    docs = render(values_file=EXAMPLE_VALUES)
    assert find(docs, "Secret") == []
    example = yaml.safe_load(EXAMPLE_VALUES.read_text())
    existing = example["secret"]["existingSecret"]
    db = example["secret"]["refs"]["DATABASE_URL"]
    for component in ("worker", "api"):
        env = {e["name"]: e for e in container(one(docs, "Deployment", f"-{component}"))["env"]}
        assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"] == db
        ref = env["ZAI_API_KEY"]["valueFrom"]["secretKeyRef"]
        assert ref["name"] == existing and ref["key"] == "ZAI_API_KEY"
        # The Kafka CA is mounted from its Secret and passed as KAFKA_SSL_CAFILE.
        assert env["KAFKA_SSL_CAFILE"]["value"] == "/etc/zai-l10n/kafka-ca/ca.crt"
    job = container(one(docs, "Job", "-migrate"))
    job_env = {e["name"]: e for e in job["env"]}
    assert job_env["DATABASE_URL"]["valueFrom"]["secretKeyRef"] == db


def test_secret_settings_are_exactly_the_chart_secrets() -> None:
    assert set(VALUES["secret"]["values"]) == SECRET_SETTINGS
    schema_secret = SCHEMA["properties"]["secret"]["properties"]
    assert set(schema_secret["values"]["properties"]) == SECRET_SETTINGS
    assert set(schema_secret["refs"]["propertyNames"]["enum"]) == SECRET_SETTINGS
    helpers = (CHART / "templates" / "_helpers.tpl").read_text()
    line = helpers.split('define "zai-l10n.secretVars"')[1].splitlines()[1]
    assert set(line.split()) == SECRET_SETTINGS


def test_config_keys_are_the_non_secret_settings() -> None:
    """One source of truth: renaming or adding a setting breaks this test, not a deployment."""
    config_schema = SCHEMA["properties"]["config"]
    assert config_schema["additionalProperties"] is False
    expected = SETTING_NAMES - SECRET_SETTINGS - CHART_MANAGED_SETTINGS
    missing = sorted(expected - set(config_schema["properties"]))
    unknown = sorted(set(config_schema["properties"]) - expected)
    # A new secret setting belongs in SECRET_SETTINGS (conftest), the chart's secretVars and
    # secret.values; any other new setting in values.schema.json's config.properties.
    assert (missing, unknown) == ([], []), "values.schema.json config.properties is out of date"
    assert CHART_MANAGED_SETTINGS <= SETTING_NAMES
    # The defaults in values.yaml are the application's (where the chart restates them).
    fields = Settings.model_fields
    for key, value in VALUES["config"].items():
        if key == "KAFKA_BOOTSTRAP_SERVERS":
            continue  # an in-cluster address, not localhost
        default = fields[key.lower()].default
        assert str(value) == str(getattr(default, "value", default)).removesuffix(".0"), key


@pytest.mark.parametrize("name", list(VARIANTS))
def test_pods_get_only_settings_and_existing_commands(render: Render, name: str) -> None:
    docs = variant(render, name)
    commands = cli_commands()
    cm = one(docs, "ConfigMap")
    assert set(cm["data"]) <= SETTING_NAMES
    for where, spec in pod_specs(docs):
        for c in spec["containers"]:
            for env in c.get("env", []):
                assert env["name"] in SETTING_NAMES, f"{where}: {env['name']} is no setting"
            if c["command"][0] == "zai-l10n":
                assert c["command"][1] in commands, where
    for component in ("worker", "api"):
        env = {e["name"]: e for e in container(one(docs, "Deployment", f"-{component}"))["env"]}
        assert env["DATABASE_AUTO_MIGRATE"]["value"] == "false"  # the hook Job migrates
    assert container(one(docs, "Deployment", "-worker"))["command"] == ["zai-l10n", "worker"]
    assert container(one(docs, "Deployment", "-api"))["command"] == ["zai-l10n", "api"]


def test_bind_addresses_and_ports_agree(render: Render) -> None:
    docs = render()
    for component, host, port in (
        ("worker", "WORKER_HTTP_HOST", "WORKER_HTTP_PORT"),
        ("api", "API_HOST", "API_PORT"),
    ):
        c = container(one(docs, "Deployment", f"-{component}"))
        env = {e["name"]: e.get("value") for e in c["env"]}
        assert env[host] == "0.0.0.0"
        assert int(env[port]) == c["ports"][0]["containerPort"]
    svc = one(docs, "Service", "-api")
    assert svc["spec"]["ports"][0]["targetPort"] == "http"


@pytest.mark.parametrize(
    "args",
    [(), ("--set", "worker.keda.enabled=true"), ("--set", "worker.autoscaling.enabled=true")],
    ids=["none", "keda", "hpa"],
)
def test_keda_and_hpa_never_both_target_the_worker(render: Render, args: tuple[str, ...]) -> None:
    docs = render(*args)
    worker = one(docs, "Deployment", "-worker")["metadata"]["name"]
    hpas = [
        h
        for h in find(docs, "HorizontalPodAutoscaler")
        if h["spec"]["scaleTargetRef"]["name"] == worker
    ]
    scaled = [
        s for s in find(docs, "ScaledObject") if s["spec"]["scaleTargetRef"]["name"] == worker
    ]
    assert len(hpas) + len(scaled) <= 1
    assert len(scaled) == ("--set" in args and "worker.keda.enabled=true" in args)
    if hpas or scaled:
        assert "replicas" not in one(docs, "Deployment", "-worker")["spec"]
    # The API always keeps its own HPA.
    api = one(docs, "Deployment", "-api")["metadata"]["name"]
    assert [
        h["spec"]["scaleTargetRef"]["name"] for h in find(docs, "HorizontalPodAutoscaler", "-api")
    ] == [api]


def test_keda_and_worker_hpa_together_are_refused(render: Render) -> None:
    with pytest.raises(HelmError, match="exclusive"):
        render("--set", "worker.keda.enabled=true", "--set", "worker.autoscaling.enabled=true")


def test_keda_scales_on_the_lag_of_the_requests_topic(render: Render) -> None:
    docs = render(values_file=EXAMPLE_VALUES)
    example = yaml.safe_load(EXAMPLE_VALUES.read_text())
    so = one(docs, "ScaledObject", "-worker")
    assert so["apiVersion"] == "keda.sh/v1alpha1"
    assert so["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": one(docs, "Deployment", "-worker")["metadata"]["name"],
    }
    (trigger,) = so["spec"]["triggers"]
    meta = trigger["metadata"]
    assert trigger["type"] == "kafka"
    assert meta["bootstrapServers"] == example["config"]["KAFKA_BOOTSTRAP_SERVERS"]
    assert meta["consumerGroup"] == example["config"]["KAFKA_GROUP_ID"]
    assert meta["topic"] == example["config"]["TOPIC_REQUESTS"]
    # Workers past the partition count still run jobs from the inbox: not idle.
    assert meta["allowIdleConsumers"] == "true"
    assert (meta["sasl"], meta["tls"]) == ("scram_sha512", "enable")
    assert all(isinstance(v, str) for v in meta.values())  # KEDA's metadata is map[string]string
    auth = one(docs, "TriggerAuthentication", "-worker-kafka")
    assert trigger["authenticationRef"]["name"] == auth["metadata"]["name"]
    refs = {r["parameter"]: r for r in auth["spec"]["secretTargetRef"]}
    assert set(refs) == {"username", "password", "ca"}
    assert refs["password"]["name"] == example["secret"]["existingSecret"]
    assert refs["ca"]["name"] == example["kafka"]["caSecret"]["name"]
    # Defaults: the application's own group and topic, no authentication.
    so = one(render("--set", "worker.keda.enabled=true"), "ScaledObject")
    meta = so["spec"]["triggers"][0]["metadata"]
    assert meta["consumerGroup"] == Settings.model_fields["kafka_group_id"].default
    assert meta["topic"] == Settings.model_fields["topic_requests"].default
    assert "authenticationRef" not in so["spec"]["triggers"][0]


@pytest.mark.parametrize("name", list(VARIANTS))
def test_worker_grace_period_outlasts_its_drain_deadline(render: Render, name: str) -> None:
    docs = variant(render, name)
    drain = float(one(docs, "ConfigMap")["data"].get("WORKER_GRACEFUL_TIMEOUT", 30.0))
    worker = one(docs, "Deployment", "-worker")["spec"]["template"]["spec"]
    assert worker["terminationGracePeriodSeconds"] > drain


def test_a_grace_period_shorter_than_the_drain_is_refused(render: Render) -> None:
    with pytest.raises(HelmError, match="must exceed"):
        render("--set", "config.WORKER_GRACEFUL_TIMEOUT=90")


def test_image_tag_defaults_to_the_app_version(render: Render) -> None:
    assert CHART_META["appVersion"] == PYPROJECT["project"]["version"]
    repo = VALUES["image"]["repository"]
    images = {c["image"] for _, spec in pod_specs(render()) for c in spec["containers"]}
    assert images == {f"{repo}:{CHART_META['appVersion']}"}
    deployment = one(render(), "Deployment", "-api")
    assert deployment["metadata"]["labels"]["app.kubernetes.io/version"] == CHART_META["appVersion"]
    tagged = {
        c["image"]
        for _, s in pod_specs(render("--set", "image.tag=1.2.3"))
        for c in s["containers"]
    }
    assert tagged == {f"{repo}:1.2.3"}
    digest = "sha256:" + "a" * 64
    pinned = {
        c["image"]
        for _, s in pod_specs(render("--set", f"image.digest={digest}"))
        for c in s["containers"]
    }
    assert pinned == {f"{repo}@{digest}"}


def test_components_carry_the_recommended_labels(render: Render) -> None:
    docs = render(values_file=EXAMPLE_VALUES)
    for doc in docs:
        labels = doc["metadata"]["labels"]
        for key in (
            "app.kubernetes.io/name",
            "app.kubernetes.io/instance",
            "app.kubernetes.io/version",
            "app.kubernetes.io/managed-by",
            "helm.sh/chart",
        ):
            assert key in labels, f"{doc['kind']}/{doc['metadata']['name']} lacks {key}"
    for component in ("worker", "api"):
        dep = one(docs, "Deployment", f"-{component}")
        selector = dep["spec"]["selector"]["matchLabels"]
        assert set(selector) == {
            "app.kubernetes.io/name",
            "app.kubernetes.io/instance",
            "app.kubernetes.io/component",
        }
        assert selector["app.kubernetes.io/component"] == component
        pod_labels = dep["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= pod_labels.items()
        pdb = one(docs, "PodDisruptionBudget", f"-{component}")
        assert pdb["spec"]["selector"]["matchLabels"] == selector
    svc = one(docs, "Service", "-api")
    assert (
        svc["spec"]["selector"]
        == one(docs, "Deployment", "-api")["spec"]["selector"]["matchLabels"]
    )


def test_config_changes_roll_the_pods(render: Render) -> None:
    def checksums(*args: str) -> dict[str, str]:
        docs = render(*args)
        return {
            c: one(docs, "Deployment", f"-{c}")["spec"]["template"]["metadata"]["annotations"][
                "checksum/config"
            ]
            for c in ("worker", "api")
        }

    before = checksums()
    after = checksums("--set", "config.LOG_LEVEL=DEBUG")
    assert all(before[c] != after[c] for c in before)
    secret_before = one(render(), "Deployment", "-worker")["spec"]["template"]["metadata"][
        "annotations"
    ]["checksum/secret"]
    secret_after = one(render("--set", "secret.values.ZAI_API_KEY=x"), "Deployment", "-worker")[
        "spec"
    ]["template"]["metadata"]["annotations"]["checksum/secret"]
    assert secret_before != secret_after


def test_migrations_run_as_a_pre_install_and_pre_upgrade_hook(render: Render) -> None:
    docs = render("--set", "secret.values.DATABASE_URL=postgresql+asyncpg://u:p@db/x")
    job = one(docs, "Job", "-migrate")
    hooks = set(job["metadata"]["annotations"]["helm.sh/hook"].split(","))
    assert hooks == {"pre-install", "pre-upgrade"}
    assert container(job)["command"] == ["zai-l10n", "migrate"]
    # Hooks run before the release's Secret exists: a hook Secret, weighted first, carries the URL.
    hook_secret = one(docs, "Secret", "-migrate")
    assert int(hook_secret["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(
        job["metadata"]["annotations"]["helm.sh/hook-weight"]
    )
    ref = {e["name"]: e for e in container(job)["env"]}["DATABASE_URL"]["valueFrom"]["secretKeyRef"]
    assert ref["name"] == hook_secret["metadata"]["name"]
    assert "serviceAccountName" not in job["spec"]["template"]["spec"]  # not created yet
    assert find(render("--set", "migrations.enabled=false"), "Job") == []


def test_helm_test_hook_checks_the_api(render: Render) -> None:
    docs = render()
    (pod,) = [d for d in docs if d["kind"] == "Pod"]
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    script = "\n".join(pod["spec"]["containers"][0]["command"])
    svc = one(docs, "Service", "-api")
    assert f"http://{svc['metadata']['name']}:{svc['spec']['ports'][0]['port']}/readyz" in script


def test_service_monitor_scrapes_both_components(render: Render) -> None:
    docs = render("--set", "metrics.serviceMonitor.enabled=true")
    sm = one(docs, "ServiceMonitor")
    assert sm["spec"]["endpoints"] == [
        {"port": "http", "path": "/metrics", "interval": "30s", "scrapeTimeout": "10s"}
    ]
    selected = [
        s
        for s in find(docs, "Service")
        if sm["spec"]["selector"]["matchLabels"].items() <= s["metadata"]["labels"].items()
    ]
    assert {s["metadata"]["labels"]["app.kubernetes.io/component"] for s in selected} == {
        "worker",
        "api",
    }
    assert all(p["name"] == "http" for s in selected for p in s["spec"]["ports"])
    assert find(render(), "ServiceMonitor") == []


@pytest.mark.parametrize(
    "override",
    [
        "replicas=3",
        "worker.replica=3",
        "api.service.nodePort=1",
        "config.NOT_A_SETTING=1",
        "secret.values.PASSWORD=x",
        "worker.keda.lagTreshold=5",
    ],
)
def test_values_schema_rejects_unknown_keys(render: Render, override: str) -> None:
    with pytest.raises(HelmError, match=r"additional properties|schema"):
        render("--set", override)


def test_values_schema_closes_every_chart_object() -> None:
    """Each object the chart defines (not a Kubernetes type passed through) rejects unknown keys."""
    passthrough = {
        "resources",
        "affinity",
        "requests",
        "limits",
        "podSecurityContext",
        "securityContext",
        "global",
        "capabilities",
    }
    open_objects = []

    def walk(node: dict[str, Any], path: str) -> None:
        if (
            node.get("type") == "object"
            and "properties" in node
            and path.split(".")[-1] not in passthrough
        ):
            if node.get("additionalProperties") is not False:
                open_objects.append(path)
        for key, child in node.get("properties", {}).items():
            walk(child, f"{path}.{key}")

    walk(SCHEMA, "")
    assert open_objects == []


def test_chart_files_are_complete() -> None:
    templates = {p.name for p in (CHART / "templates").rglob("*") if p.is_file()}
    assert {
        "NOTES.txt",
        "_helpers.tpl",
        "job-migrate.yaml",
        "keda.yaml",
        "hpa.yaml",
        "pdb.yaml",
        "servicemonitor.yaml",
        "test-api.yaml",
    } <= templates
    assert (CHART / "values.schema.json").is_file()


@pytest.mark.parametrize("values_file", [None, EXAMPLE_VALUES], ids=["default", "production"])
def test_notes_render_and_warn_about_a_missing_database(
    helm: str, values_file: Path | None
) -> None:
    cmd = [helm, "install", "l10n", str(CHART), "--dry-run=client", "-n", "l10n"]
    if values_file:
        cmd += ["-f", str(values_file)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    notes = out.stdout.split("NOTES:", 1)[1]
    assert "port-forward svc/l10n-zai-l10n-api" in notes
    assert ("no database URL" in notes) is (values_file is None)


def test_keda_can_also_scale_on_the_inbox_backlog(render: Render) -> None:
    so = one(
        render(
            "--set",
            "worker.keda.enabled=true",
            "--set",
            "worker.keda.pendingJobs.enabled=true",
            "--set",
            "worker.keda.pendingJobs.serverAddress=http://prometheus:9090",
        ),
        "ScaledObject",
    )
    kafka, prom = so["spec"]["triggers"]
    assert kafka["type"] == "kafka" and prom["type"] == "prometheus"
    assert prom["metadata"] == {
        "serverAddress": "http://prometheus:9090",
        "query": "max(zai_l10n_jobs_pending)",
        "threshold": "64",
    }
