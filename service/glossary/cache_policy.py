"""When a cached Z.ai glossary file may be reused, and which files to give up for room (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class CachePolicy:
    retention: timedelta = timedelta(days=180)  # Z.ai keeps agent files this long
    refresh_margin: timedelta = timedelta(days=7)  # re-upload this long before expiry
    lease: timedelta = timedelta(seconds=60)  # how long an uploader may hold the row
    max_files: int = 90  # Z.ai allows 100 per account; keep headroom for manual uploads

    def is_fresh(self, uploaded_at: datetime | None, now: datetime) -> bool:
        if uploaded_at is None:
            return False
        return now < uploaded_at + self.retention - self.refresh_margin

    def lease_expired(self, expires_at: datetime | None, now: datetime) -> bool:
        return expires_at is None or expires_at <= now


@dataclass(frozen=True)
class CachedFile:
    row_id: int
    file_id: str
    last_used_at: datetime | None


def evictions(files: Sequence[CachedFile], *, max_files: int, keep: int = 1) -> list[CachedFile]:
    """Files to delete so `keep` more fit under `max_files`: least recently used first."""
    excess = len(files) + keep - max_files
    if excess <= 0:
        return []
    oldest_first = sorted(files, key=lambda f: (f.last_used_at is not None, f.last_used_at))
    return oldest_first[:excess]
