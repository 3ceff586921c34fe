"""What the pipeline needs from the outside world, as protocols and the types they speak;
adapters live elsewhere.

SQL adapters are in `service.store`, the Kafka ones in `service.kafka`, the translator is
`service.zai.ZaiClient`; `tests/unit/pipeline/fakes.py` has in-memory ones. Every store method
raises `service.errors.StoreUnavailable` when the database does not answer, and nothing else
for that case, so the core can pause and retry without knowing any driver; a translator raises
`service.errors.UpstreamError` for a call that failed for good.

One module per outside party: `jobs.py` (the job store), `memory.py`, `upstream.py` (the
translator), `tenants.py`, `glossaries.py`, `budgets.py`, `outbox.py`; all re-exported here.
"""

from __future__ import annotations

from service.pipeline.contract.states import JobState
from service.pipeline.ports.budgets import Budgets, EstimateMethod, Held, Standing
from service.pipeline.ports.glossaries import (
    DocLoader,
    FileRecord,
    Glossaries,
    GlossaryFileRecords,
    GlossaryPin,
    PairKey,
)
from service.pipeline.ports.jobs import (
    Accepted,
    Arrival,
    Candidate,
    ClaimedJob,
    Completion,
    JobStore,
    Target,
)
from service.pipeline.ports.memory import Memory, Remembered
from service.pipeline.ports.outbox import Outbox, PendingEvent
from service.pipeline.ports.tenants import SigningKeys, SigningSecrets, Tenants
from service.pipeline.ports.upstream import (
    TokenUsage,
    Translator,
    UpstreamFile,
    UpstreamRequest,
    UpstreamTask,
    UpstreamTranslation,
)

__all__ = [
    "Accepted",
    "Arrival",
    "Budgets",
    "Candidate",
    "ClaimedJob",
    "Completion",
    "DocLoader",
    "EstimateMethod",
    "FileRecord",
    "Glossaries",
    "GlossaryFileRecords",
    "GlossaryPin",
    "Held",
    "JobState",
    "JobStore",
    "Memory",
    "Outbox",
    "PairKey",
    "PendingEvent",
    "Remembered",
    "SigningKeys",
    "SigningSecrets",
    "Standing",
    "Target",
    "Tenants",
    "TokenUsage",
    "Translator",
    "UpstreamFile",
    "UpstreamRequest",
    "UpstreamTask",
    "UpstreamTranslation",
]
