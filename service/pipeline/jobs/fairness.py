"""Which queued jobs to start next: oldest first, round-robin across tenants, per-tenant cap."""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Mapping, Sequence

from service.pipeline.ports.jobs import Candidate


def pick(
    candidates: Sequence[Candidate],
    *,
    slots: int,
    running: Mapping[str, int],
    tenant_cap: int,
) -> list[Candidate]:
    """Up to `slots` jobs; no tenant goes past `tenant_cap` running, tenants take turns.

    `candidates` come oldest first; within a tenant that order is kept.
    """
    queues: OrderedDict[str, list[Candidate]] = OrderedDict()
    for c in candidates:
        queues.setdefault(c.tenant_id, []).append(c)
    load = Counter(running)
    chosen: list[Candidate] = []
    while len(chosen) < slots and queues:
        for tenant in list(queues):
            if len(chosen) == slots:
                break
            queue = queues[tenant]
            if load[tenant] >= tenant_cap or not queue:
                del queues[tenant]
                continue
            chosen.append(queue.pop(0))
            load[tenant] += 1
    return chosen
