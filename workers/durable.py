"""Database steps that must land although the database blinks: retried while the job is ours.

A job attempt holds its job while its heartbeat is fresh: the relay takes a
running job back only once ``heartbeat_at`` is ``JOB_STALE_AFTER_SECONDS``
old. Until then, whatever the attempt must write (its outcome; the record of
an effect that cannot be undone, such as an e-mail handed to SMTP) is retried
with backoff when the database is unavailable, so a restart of a few seconds
neither loses an outcome nor makes the relay run the job again. Past that
point the write is given up: the relay may already have handed the job to
another worker, which checks the effect records before acting.

Every write retried here is guarded (an attempt's outcome names its attempt,
an effect record is set once), so a try whose commit landed but whose answer
was lost is harmless to repeat. A handler's reads go through ``while_held``
too, so a blink in the middle of a job costs a pause, not an attempt.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    wait_exponential,
)

from domain.errors import DatabaseUnavailable
from workers.outages import DATABASE

T = TypeVar("T")

FIRST_WAIT_SECONDS = 0.1
MAX_WAIT_SECONDS = 2.0

# The running attempt's "held until" (time.monotonic()), set by the lifecycle for the handler.
_held_until: ContextVar[Callable[[], float] | None] = ContextVar("attempt_held_until", default=None)


async def write_until(write: Callable[[], Awaitable[T]], held_until: Callable[[], float]) -> T:
    """``write()``, retried while the database is unavailable and ``held_until()`` lies ahead;
    raises ``DatabaseUnavailable`` once it has passed.

    The first try is made outside tenacity: it almost always lands, and building a
    tenacity retry loop costs more CPU than a job's claim (measured under the throughput
    bench: a third of a worker's event loop went to the two loops every job built).
    """
    try:
        written = await write()
    except DatabaseUnavailable as exc:
        if time.monotonic() >= held_until():
            raise
        DATABASE.failed(exc)
        await asyncio.sleep(FIRST_WAIT_SECONDS)
        written = await _retried(write, held_until)
    DATABASE.answered()
    return written


async def _retried(write: Callable[[], Awaitable[T]], held_until: Callable[[], float]) -> T:
    def out_of_time(_: RetryCallState) -> bool:
        return time.monotonic() >= held_until()

    def waiting(state: RetryCallState) -> None:
        if state.outcome is not None and (exc := state.outcome.exception()) is not None:
            DATABASE.failed(exc)

    retrying = AsyncRetrying(
        retry=retry_if_exception_type(DatabaseUnavailable),
        wait=wait_exponential(multiplier=FIRST_WAIT_SECONDS, max=MAX_WAIT_SECONDS),
        stop=out_of_time,
        before_sleep=waiting,
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            written = await write()
    return written


def hold_for_attempt(held_until: Callable[[], float]) -> object:
    """Make ``write_while_held`` in this context retry until ``held_until()``; returns the token
    for ``release_attempt``."""
    return _held_until.set(held_until)


def release_attempt(token: object) -> None:
    _held_until.reset(token)  # type: ignore[arg-type]


async def while_held(step: Callable[[], Awaitable[T]]) -> T:
    """For a job handler: a database ``step`` (a read, or a write that must land), retried
    for as long as the running attempt holds its job (outside an attempt, tried once)."""
    held_until = _held_until.get()
    if held_until is None:
        return await step()
    return await write_until(step, held_until)
