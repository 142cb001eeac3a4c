"""Group commit: concurrent calls share a flush, each caller gets its own answer."""

from __future__ import annotations

import asyncio

import pytest

from domain.adapters.jobs.coalescer import Coalescer


async def test_a_lone_call_flushes_at_once_and_concurrent_calls_share_batches() -> None:
    batches: list[list[int]] = []

    async def double(keys: list[int]) -> list[int]:
        batches.append(keys)
        await asyncio.sleep(0.01)
        return [key * 2 for key in keys]

    coalescer: Coalescer[int, int] = Coalescer(double, max_in_flight=1)
    assert await coalescer.submit(1) == 2
    assert batches == [[1]]

    results = await asyncio.gather(*(coalescer.submit(n) for n in range(10)))
    assert results == [n * 2 for n in range(10)]
    # Calls made in the same turn of the loop join the flush that starts after it.
    assert batches[1:] == [list(range(10))]


async def test_a_failed_flush_fails_every_caller_of_that_batch_only() -> None:
    calls = 0

    async def flaky(keys: list[int]) -> list[int]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        if calls == 2:
            raise RuntimeError("database went away")
        return keys

    coalescer: Coalescer[int, int] = Coalescer(flaky, max_in_flight=1)
    first = asyncio.ensure_future(coalescer.submit(0))
    await asyncio.sleep(0)
    doomed = [asyncio.ensure_future(coalescer.submit(n)) for n in (1, 2)]
    assert await first == 0
    for future in doomed:
        with pytest.raises(RuntimeError):
            await future
    assert await coalescer.submit(3) == 3  # and it keeps working
