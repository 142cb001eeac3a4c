"""Group commit for the job store's hot path.

A worker process runs many attempts at once on one event loop; each would
claim and finish its job with its own statement and commit. Instead, calls
that arrive while a flush is in flight wait and go together in the next
one: under load the batch grows by itself, idle there is no added wait (a
lone call flushes at once). One statement and one commit then serve many
jobs, which is what keeps the durable path near bare Dramatiq's speed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

K = TypeVar("K")
R = TypeVar("R")


class Coalescer(Generic[K, R]):
    """Runs ``run_many(keys) -> results in the same order`` over batches of concurrent calls."""

    def __init__(
        self,
        run_many: Callable[[list[K]], Awaitable[Sequence[R]]],
        *,
        max_in_flight: int = 2,
        max_batch: int = 256,
    ) -> None:
        self._run_many = run_many
        self._max_in_flight = max_in_flight
        self._max_batch = max_batch
        self._pending: list[tuple[K, asyncio.Future[R]]] = []
        self._in_flight = 0
        self._starting = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, key: K) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((key, future))
        self._maybe_flush()
        return await future

    def _maybe_flush(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending and self._in_flight + self._starting < self._max_in_flight:
            self._starting += 1
            task = loop.create_task(self._flush())
            self._tasks.add(task)  # held until done: the loop keeps only weak references
            task.add_done_callback(self._tasks.discard)

    async def _flush(self) -> None:
        # The batch is taken when the flush starts, not when it was scheduled: calls made
        # in the same turn of the loop (a worker's threads hand their jobs to it between
        # turns) join it.
        self._starting -= 1
        batch = self._pending[: self._max_batch]
        del self._pending[: self._max_batch]
        if not batch:
            return
        self._in_flight += 1
        try:
            results = await self._run_many([key for key, _ in batch])
        except BaseException as exc:  # every caller of the batch sees the failure
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
        else:
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)
        finally:
            self._in_flight -= 1
            # The next flush starts one loop turn later, not at once: the callers just
            # answered run first, and what they submit next (a claimed job's
            # success, when its handler returns without waiting) joins that flush
            # instead of waiting a whole round for the one after it.
            asyncio.get_running_loop().call_soon(self._maybe_flush)
