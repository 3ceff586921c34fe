"""Tenants' monthly token budgets: standing and reservations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

#: How a token count before a call was made: Z.ai's tokenizer, or from characters.
EstimateMethod = Literal["tokenizer", "characters"]


@dataclass(frozen=True)
class Held:
    """A job's reservation: tokens per target language, and how they were counted."""

    per_language: int
    method: EstimateMethod


@dataclass(frozen=True)
class Standing:
    """A tenant's monthly token budget now: `spent` is this month's usage ledger, `reserved`
    what jobs admitted and not yet completed hold; `held` is the asking job's reservation."""

    limit: int
    spent: int
    reserved: int
    held: Held | None = None

    @property
    def remaining(self) -> int:
        return self.limit - self.spent - self.reserved


class Budgets(Protocol):
    """Monthly token budgets per tenant. A reservation is released in the job's completion
    transaction, the one that adds its usage to the ledger (JobStore.complete)."""

    async def limit(self, tenant_id: str) -> int | None:
        """The tenant's monthly budget in tokens; None: no budget (cached for a few seconds)."""
        ...

    async def standing(self, tenant_id: str, job_id: str) -> Standing | None:
        """The budget's standing now, with this job's reservation; None without a budget."""
        ...

    async def reserve(
        self,
        tenant_id: str,
        job_id: str,
        per_language: int,
        languages: int,
        method: EstimateMethod,
    ) -> tuple[bool, Standing | None]:
        """Atomically (one tenant at a time): reserve `per_language * languages` tokens for the
        job if what is left covers them. (True, standing after) when reserved, or held already,
        or the tenant has no budget (standing None); (False, standing) when refused."""
        ...
