"""The chart's Grafana dashboard and PrometheusRule: off by default, rendered and valid when on,
and every metric a panel or an alert names is served by the worker's or the API's /metrics."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import kubernetes_validate.utils as kv
import promql_parser
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from service.api.app import create_app
from service.config import Settings
from service.worker.app import WorkerService
from tests.deploy.support import CHART, HelmError, Render, find, one

pytestmark = pytest.mark.deploy

DASHBOARD = CHART / "dashboards" / "zai-l10n.json"
ON = (
    "--set",
    "monitoring.dashboard.enabled=true",
    "--set",
    "monitoring.prometheusRule.enabled=true",
)
# Grafana's variables, as Grafana substitutes them before a query reaches Prometheus.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$namespace": ".*"}
# What the issue asks the dashboard and the rules to show.
PANELS = {
    "Throughput",
    "End-to-end latency",
    "Failures by code",
    "Dead letters by reason",
    "Consumer lag and pending jobs",
    "Upstream 429 share",
    "Outbox age",
    "Memory hit rate",
    "Packing success",
}
ALERTS = {
    "ZaiL10nDeadLetters",
    "ZaiL10nFailureRate",
    "ZaiL10nConsumerLagGrowing",
    "ZaiL10nPendingJobsGrowing",
    "ZaiL10nUpstream429Share",
    "ZaiL10nOutboxStale",
    "ZaiL10nWorkerNotReady",
    "ZaiL10nTenantBudget",
}
SAMPLE_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
}


def served(text: str) -> set[str]:
    """Every sample name an exposition can carry, whether or not a labelled series exists yet
    (a counter family `x` serves x_total and x_created)."""
    names = set()
    for family in text_string_to_metric_families(text):
        names |= {family.name + s for s in SAMPLE_SUFFIXES.get(family.type, ("",))}
    return names


@pytest.fixture(scope="module")
def metric_names(tmp_path_factory: pytest.TempPathFactory) -> Iterator[set[str]]:
    """What the worker's and the API's /metrics serve, from their own HTTP apps (nothing is
    started: no broker or database is reached to serve /metrics)."""
    db = tmp_path_factory.mktemp("metrics") / "m.db"
    settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{db}")  # type: ignore[call-arg]
    worker = WorkerService(settings)
    app = worker._http_server().config.app

    async def scrape() -> str:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://worker") as client:
            response = await client.get("/metrics")
        assert response.status_code == 200
        return response.text

    worker_text = asyncio.run(scrape())
    api = TestClient(create_app(settings)).get("/metrics")
    assert api.status_code == 200
    yield served(worker_text) | served(api.text)


def metrics_in(expr: str) -> set[str]:
    for name, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(name, value)
    found: set[str] = set()
    _walk(promql_parser.parse(expr), found)
    return found


def _walk(node: Any, found: set[str]) -> None:
    if isinstance(node, promql_parser.VectorSelector):
        assert node.name, "every selector names its metric"
        found.add(node.name)
        return
    for attr in ("expr", "lhs", "rhs", "vector_selector", "param"):
        child = getattr(node, attr, None)
        if child is not None and not isinstance(child, str | int | float):
            _walk(child, found)
    for arg in getattr(node, "args", None) or ():
        _walk(arg, found)


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def dashboard_exprs() -> list[str]:
    return [t["expr"] for p in dashboard()["panels"] for t in p["targets"]]


def rule_exprs(render: Render) -> list[str]:
    rule = one(render(*ON), "PrometheusRule")
    return [r["expr"] for g in rule["spec"]["groups"] for r in g["rules"]]


def test_both_are_off_by_default(render: Render) -> None:
    docs = render()
    assert find(docs, "PrometheusRule") == []
    assert find(docs, "ConfigMap", "-dashboard") == []


def test_the_dashboard_json_loads_and_has_the_panels_asked_for() -> None:
    d = dashboard()
    panels = d["panels"]
    assert PANELS <= {p["title"] for p in panels}
    assert len({p["id"] for p in panels}) == len(panels)
    variables = {v["name"]: v for v in d["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    for p in panels:
        assert p["datasource"]["uid"] == "${datasource}", p["title"]
        assert p["targets"] and p["description"], p["title"]
        pos = p["gridPos"]
        assert 0 <= pos["x"] and pos["x"] + pos["w"] <= 24, p["title"]
        for t in p["targets"]:
            assert 'namespace=~"$namespace"' in t["expr"], t["expr"]


def test_every_metric_a_panel_or_a_rule_names_is_served(
    render: Render, metric_names: set[str]
) -> None:
    exprs = dashboard_exprs() + rule_exprs(render)
    named = set().union(*(metrics_in(e) for e in exprs))
    assert named, "the parser found metric names"
    assert named - metric_names == set(), "names no /metrics serves"
    # The check is not vacuous: a misspelt name is caught.
    assert metrics_in("rate(zai_l10n_translations_complete_total[5m])") - metric_names


def test_the_chart_renders_both_and_they_are_valid(render: Render) -> None:
    for kube_version in ("1.29", kv.latest_version()):
        docs = render(*ON, "--kube-version", kube_version)
        cm = one(docs, "ConfigMap", "-dashboard")
        kv.validate(cm, kube_version, strict=True)
        assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert json.loads(cm["data"]["zai-l10n.json"]) == dashboard()
    rule = one(render(*ON), "PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    rules = {r["alert"]: r for g in rule["spec"]["groups"] for r in g["rules"]}
    assert ALERTS <= set(rules)
    for name, r in rules.items():
        assert r["labels"]["severity"] in ("warning", "critical"), name
        assert r["annotations"]["summary"] and r["annotations"]["description"], name
        assert 'namespace="l10n"' in r["expr"], name  # this release's pods only


def test_thresholds_come_from_the_values(render: Render) -> None:
    rule = one(
        render(*ON, "--set", "monitoring.prometheusRule.outbox.ageSeconds=42"), "PrometheusRule"
    )
    rules = {r["alert"]: r for g in rule["spec"]["groups"] for r in g["rules"]}
    assert rules["ZaiL10nOutboxStale"]["expr"].endswith("> 42")


def test_a_malformed_threshold_is_refused(render: Render) -> None:
    with pytest.raises(HelmError, match="schema"):
        render(*ON, "--set", "monitoring.prometheusRule.outbox.for=soon")
