"""Monthly token budgets: a job is admitted before any upstream call, or refused.

How a job is admitted (docs/usage.md):

1. The tenant has no budget: nothing to do (the limit is cached for a few seconds).
2. The job holds a reservation already (a worker ran it before and died): it keeps it.
3. Nothing is left this month: refused at once, without asking the tokenizer.
4. Otherwise the job's source text is counted (`TokenEstimator`: Z.ai's tokenizer, or
   characters) and `tokens_per_source_token` times that is reserved per target language,
   atomically against `budget - spent - reserved` (`Budgets.reserve`, one tenant at a time).
   Not enough left: refused, every language fails with `quota.tenant_budget_exceeded`.

A reservation is released in the job's completion transaction, which also adds the job's usage
to the ledger, so `spent + reserved` never forgets a job in flight and never counts one twice.
Spending can pass the budget only by what admitted jobs use beyond their reservations: at
most the jobs in flight at once (one batch of them), and nothing when estimates are high.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass

from service.errors import TenantBudgetExceeded
from service.metrics import Metrics
from service.pipeline.durable import Durable
from service.pipeline.ports import Budgets, Held, Standing
from service.pipeline.translation.context import JobContext, unsupported_pair
from service.pipeline.translation.estimate import TokenEstimator

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BudgetConfig:
    # Tokens one target language costs per token of source text: the prompt (the text, the
    # agent's instructions, glossary hints) plus the completion (the translation).
    tokens_per_source_token: float = 2.5


class BudgetGate:
    def __init__(
        self,
        budgets: Budgets,
        estimator: TokenEstimator,
        metrics: Metrics,
        durable: Durable,
        config: BudgetConfig = BudgetConfig(),
    ) -> None:
        self._budgets = budgets
        self._estimator = estimator
        self._metrics = metrics
        self._durable = durable
        self._config = config

    async def admit(self, ctx: JobContext) -> Held | None:
        """The job's reservation (None: the tenant has no budget, or no language to pay for);
        raises `TenantBudgetExceeded`, failing every language, when what is left is short."""
        languages = [
            lang
            for lang in ctx.job.pending
            if unsupported_pair(ctx.request.source_lang, lang) is None
        ]
        if not languages:
            return None
        budgets, tenant, job_id = self._budgets, ctx.job.tenant_id, ctx.job.id
        if await self._durable("budget", lambda: budgets.limit(tenant)) is None:
            return None
        standing = await self._durable("budget", lambda: budgets.standing(tenant, job_id))
        if standing is None:
            return None
        if standing.held is not None:
            return standing.held
        if standing.remaining <= 0:
            raise self._refusal(tenant, standing, needed=None)
        text = "\n".join(text for _, text in ctx.sources)
        estimate = await self._estimator.count(ctx.translator, text)
        per_language = math.ceil(estimate.tokens * self._config.tokens_per_source_token)
        granted, after = await self._durable(
            "budget",
            lambda: budgets.reserve(tenant, job_id, per_language, len(languages), estimate.method),
        )
        if after is not None:
            observe(self._metrics, tenant, after)
        if not granted and after is not None:
            raise self._refusal(tenant, after, needed=per_language * len(languages))
        return Held(per_language, estimate.method)

    def _refusal(self, tenant: str, standing: Standing, needed: int | None) -> TenantBudgetExceeded:
        left = max(0, standing.remaining)
        wants = f"; this request needs about {needed}" if needed is not None else ""
        self._metrics.budget_refused.labels(tenant).inc()
        logger.warning(
            "budget exceeded: job refused",
            extra={"limit": standing.limit, "left": left, "needed": needed},
        )
        return TenantBudgetExceeded(
            f"the tenant's monthly token budget has {left} of {standing.limit} tokens left{wants}"
        )


def observe(metrics: Metrics, tenant: str, standing: Standing) -> None:
    """The budget gauges of one tenant (the alert at 80 % reads `spent_ratio`)."""
    metrics.budget_limit.labels(tenant).set(standing.limit)
    metrics.budget_spent.labels(tenant).set(standing.spent)
    metrics.budget_reserved.labels(tenant).set(standing.reserved)
    ratio = standing.spent / standing.limit if standing.limit > 0 else 1.0
    metrics.budget_spent_ratio.labels(tenant).set(ratio)


def forget(metrics: Metrics, tenant: str) -> None:
    """A tenant whose budget was removed leaves the gauges (and so the alert)."""
    for gauge in (
        metrics.budget_limit,
        metrics.budget_spent,
        metrics.budget_reserved,
        metrics.budget_spent_ratio,
    ):
        try:
            gauge.remove(tenant)
        except KeyError:
            pass


def refresh(metrics: Metrics, standings: Mapping[str, Standing], shown: set[str]) -> set[str]:
    """Every budget's gauges from a fresh read; tenants no longer budgeted leave them. Returns
    the tenants shown now (the next call's `shown`)."""
    for tenant, standing in standings.items():
        observe(metrics, tenant, standing)
    for tenant in shown - standings.keys():
        forget(metrics, tenant)
    return set(standings)
