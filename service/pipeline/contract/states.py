"""States of a job, of its target languages and of an uploaded glossary file.

The columns stay plain strings (readable in SQL, no enum migrations); these enums are what the
code compares with, so a typo is a type error instead of a silent mismatch.
"""

from __future__ import annotations

from enum import StrEnum


class JobState(StrEnum):
    queued = "queued"  # accepted, waiting for a worker
    running = "running"  # claimed under a lease
    done = "done"  # every language has its outcome; the events are in the outbox


class TargetState(StrEnum):
    pending = "pending"
    completed = "completed"
    failed = "failed"


class FileState(StrEnum):
    uploading = "uploading"  # a worker holds the lease and uploads
    ready = "ready"  # file_id is usable (None: the pair has no terms)
    stale = "stale"  # Z.ai no longer knows the file
    deleted = "deleted"  # superseded or evicted
    failed = "failed"  # the upload failed; the next user tries again
