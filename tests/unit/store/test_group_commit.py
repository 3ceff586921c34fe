"""Group commit: concurrent submits share one flush; each caller gets its own result or error."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from service.errors import StoreUnavailable
from service.store.group_commit import GroupCommit


async def test_concurrent_submits_share_one_flush_and_get_their_own_results() -> None:
    flushes: list[list[int]] = []

    async def flush(items: Sequence[int]) -> list[int]:
        flushes.append(list(items))
        return [i * 10 for i in items]

    group = GroupCommit(flush, window=0.01)
    results = await asyncio.gather(*(group.submit(i) for i in range(5)))
    assert results == [0, 10, 20, 30, 40] and flushes == [[0, 1, 2, 3, 4]]


async def test_a_full_batch_flushes_at_once_and_the_rest_follows() -> None:
    flushes: list[list[int]] = []

    async def flush(items: Sequence[int]) -> list[int]:
        flushes.append(list(items))
        return list(items)

    group = GroupCommit(flush, window=10.0, max_items=3)  # only fullness may flush quickly
    async with asyncio.timeout(1):
        assert await asyncio.gather(*(group.submit(i) for i in range(3))) == [0, 1, 2]
    assert flushes == [[0, 1, 2]]


async def test_a_failed_flush_fails_every_caller_of_the_batch() -> None:
    async def flush(items: Sequence[int]) -> list[int]:
        raise StoreUnavailable("down")

    group = GroupCommit(flush, window=0.001)
    results = await asyncio.gather(*(group.submit(i) for i in range(3)), return_exceptions=True)
    assert all(isinstance(r, StoreUnavailable) for r in results)
    with pytest.raises(StoreUnavailable):
        await group.submit(9)  # and the next batch is tried afresh


async def test_a_cancelled_caller_does_not_tear_down_the_batch() -> None:
    release = asyncio.Event()

    async def flush(items: Sequence[int]) -> list[int]:
        await release.wait()
        return list(items)

    group = GroupCommit(flush, window=0.001)
    first = asyncio.create_task(group.submit(1))
    second = asyncio.create_task(group.submit(2))
    await asyncio.sleep(0.01)
    first.cancel()
    release.set()
    assert await second == 2
