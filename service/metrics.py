"""Prometheus metrics of the worker, on a registry of its own (no process-global state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry or CollectorRegistry()
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
            "zai_l10n_jobs_in_flight", "Jobs running in this process", registry=r
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
        """Token estimates and the tenants' monthly budgets (service.pipeline.budget)."""
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
