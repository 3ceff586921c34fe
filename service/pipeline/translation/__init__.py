"""Translating one job: what its languages share (`context.py`), and one language's run
(`run.py`) with its parts: memory, packing, chunking, upstream calls, the outcome event."""
