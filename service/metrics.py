"""Prometheus metrics of the worker, on a registry of its own (no process-global state).

The dashboard and the alert rules of the Helm chart name these (docs/operations.md); a test
checks that every name they use is served on /metrics.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase

OTHER_TENANTS = "_other"  # tenant ids start with a letter or digit: no tenant is named so


@functools.lru_cache(maxsize=4096)
def child(metric: MetricWrapperBase, *values: str) -> Any:
    """`metric.labels(*values)`, remembered: `labels` validates and takes a lock on every call,
    and a job makes a dozen of them. Only for metrics whose series are never removed (the
    budget gauges are: they call `labels` themselves)."""
    return metric.labels(*values)


class TenantLabels:
    """Bounded values of the `tenant` label: allow-listed tenants by name, then the first
    `slots` other tenants this process meets by name, everyone else as `_other`. At most
    len(allow) + slots + 1 series per metric and label set, and a tenant keeps its own series
    once it has one (counters stay monotonic; a top-N by usage would move tenants in and out)."""

    def __init__(self, allow: Iterable[str] = (), slots: int = 20) -> None:
        self._allow = frozenset(allow)
        self._slots = slots
        self._named: set[str] = set()

    def __call__(self, tenant: str) -> str:
        if tenant in self._allow or tenant in self._named:
            return tenant
        if len(self._named) < self._slots:
            self._named.add(tenant)
            return tenant
        return OTHER_TENANTS


class Metrics:
    def __init__(
        self, registry: CollectorRegistry | None = None, *, tenants: TenantLabels | None = None
    ) -> None:
        r = self.registry = registry or CollectorRegistry()
        self.tenant_label = tenants or TenantLabels()
        self.consumed = Counter("zai_l10n_requests_consumed", "Request messages read", registry=r)
        self.accepted = Counter("zai_l10n_jobs_accepted", "New jobs persisted", registry=r)
        self.duplicates = Counter(
            "zai_l10n_requests_duplicate", "Requests whose job already existed", registry=r
        )
        self.completed = Counter(
            "zai_l10n_translations_completed", "Completed (request, language) pairs", registry=r
        )
        self.failed = Counter(
            "zai_l10n_translations_failed", "Failed (request, language) pairs", ["code"], registry=r
        )
        self.dead_lettered = Counter(
            "zai_l10n_dead_lettered", "Messages sent to the DLQ", ["reason"], registry=r
        )
        self.in_flight = Gauge(
            "zai_l10n_jobs_in_flight",
            "Jobs at work in this process (not those only writing their results)",
            registry=r,
        )
        self.backlog = Gauge(
            "zai_l10n_jobs_pending", "Jobs accepted and not done (all workers)", registry=r
        )
        self.upstream_calls = Counter(
            "zai_l10n_upstream_calls", "Z.ai calls", ["route", "outcome"], registry=r
        )
        self.upstream_latency = Histogram(
            "zai_l10n_upstream_latency_seconds",
            "Z.ai call latency (including retries and polling)",
            ["route", "outcome"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300),
            registry=r,
        )
        self.polls = Histogram(
            "zai_l10n_polls_per_unit",
            "Async-result polls per translated unit",
            buckets=(0, 1, 2, 3, 5, 10, 20, 50),
            registry=r,
        )
        self._quality(r)
        self._observability(r)
        self._tenant_usage(r)

    def _quality(self, r: CollectorRegistry) -> None:
        self.memory_hits = Counter("zai_l10n_memory_hits", "Units served from memory", registry=r)
        self.glossary_uploads = Counter(
            "zai_l10n_glossary_uploads", "Glossary files uploaded to Z.ai", registry=r
        )
        self.packing = Counter(
            "zai_l10n_packing",
            "Packing: packed calls whose markers came back (packed_ok) or were lost and the batch"
            " split in halves (split), segments sent alone after splitting (single), attempts not"
            " packed because packing is paused for the tenant and language (paused)",
            ["outcome"],
            registry=r,
        )
        self.qa = Counter(
            "zai_l10n_qa_segments",
            "Translated segments by QA status (segments_<status>) and code (qa_<code>)",
            ["kind"],
            registry=r,
        )
        self._estimates_and_budgets(r)
        self.consumer_lag = Gauge(
            "zai_l10n_consumer_lag", "Messages not yet consumed", ["partition"], registry=r
        )

    def _estimates_and_budgets(self, r: CollectorRegistry) -> None:
        """Token estimates and the tenants' monthly budgets (service.pipeline.jobs.budget)."""
        self.token_estimates = Counter(
            "zai_l10n_token_estimates",
            "Token counts made before upstream calls (budget check, splitting), by how: Z.ai's"
            " tokenizer (or its cached answer), or from characters when it did not answer",
            ["method"],
            registry=r,
        )
        self.budget_limit = Gauge(
            "zai_l10n_tenant_budget_tokens",
            "A tenant's monthly token budget",
            ["tenant"],
            registry=r,
        )
        self.budget_spent = Gauge(
            "zai_l10n_tenant_budget_spent_tokens",
            "Tokens a tenant used this month (the usage ledger)",
            ["tenant"],
            registry=r,
        )
        self.budget_reserved = Gauge(
            "zai_l10n_tenant_budget_reserved_tokens",
            "Tokens reserved by a tenant's admitted jobs not yet completed",
            ["tenant"],
            registry=r,
        )
        self.budget_spent_ratio = Gauge(
            "zai_l10n_tenant_budget_spent_ratio",
            "Spent / budget this month (alert at 0.8, docs/usage.md)",
            ["tenant"],
            registry=r,
        )
        self.budget_refused = Counter(
            "zai_l10n_tenant_budget_refused",
            "Jobs refused with quota.tenant_budget_exceeded",
            ["tenant"],
            registry=r,
        )

    def _observability(self, r: CollectorRegistry) -> None:
        self.queue_time = Histogram(
            "zai_l10n_queue_seconds",
            "From a job's acceptance (its row) to its first claim by a worker",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800),
            registry=r,
        )
        self.end_to_end = Histogram(
            "zai_l10n_end_to_end_seconds",
            "From a job's acceptance to its outcome committed to the outbox, per (request,"
            " language), by outcome (translation.completed or translation.failed)",
            ["outcome"],
            buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800),
            registry=r,
        )
        self.upstream_attempts = Counter(
            "zai_l10n_upstream_attempts",
            "HTTP exchanges with Z.ai (directly or through Truto), every retry and poll counted,"
            " by route and status (ok, 429, 4xx, 5xx, timeout, connection, other)",
            ["route", "status"],
            registry=r,
        )
        self.memory_lookups = Counter(
            "zai_l10n_memory_lookups", "Units looked up in translation memory", registry=r
        )
        self.outbox_age = Gauge(
            "zai_l10n_outbox_oldest_age_seconds",
            "Age of the oldest outbox row not yet sent to Kafka (0 when none waits)",
            registry=r,
        )
        self.ready = Gauge(
            "zai_l10n_worker_ready",
            "1 while the worker's readiness checks pass, else 0",
            registry=r,
        )

    def _tenant_usage(self, r: CollectorRegistry) -> None:
        """Per-tenant usage for dashboards, `tenant` bounded by TenantLabels. The billing
        record is the database's usage ledger, not these."""
        self.tenant_calls = Counter(
            "zai_l10n_tenant_upstream_calls",
            "Upstream calls (attempts and polls) of successful translations, per tenant",
            ["tenant"],
            registry=r,
        )
        self.tenant_tokens = Counter(
            "zai_l10n_tenant_tokens",
            "Tokens Z.ai reported, per tenant and kind (prompt, completion)",
            ["tenant", "kind"],
            registry=r,
        )
        self.tenant_characters = Counter(
            "zai_l10n_tenant_characters",
            "Source characters sent upstream (memory hits excluded), per tenant",
            ["tenant"],
            registry=r,
        )

    def tenant_usage(
        self, tenant_id: str, *, calls: int, prompt: int, completion: int, characters: int
    ) -> None:
        tenant = self.tenant_label(tenant_id)
        child(self.tenant_calls, tenant).inc(calls)
        child(self.tenant_tokens, tenant, "prompt").inc(prompt)
        child(self.tenant_tokens, tenant, "completion").inc(completion)
        child(self.tenant_characters, tenant).inc(characters)
