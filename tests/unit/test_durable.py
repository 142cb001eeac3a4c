"""Database steps retried while the attempt holds its job, and no longer."""

from __future__ import annotations

import time

import pytest

from domain.errors import DatabaseUnavailable, TransientFailure
from workers import durable
from workers.durable import hold_for_attempt, release_attempt, while_held, write_until


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(durable, "FIRST_WAIT_SECONDS", 0.01)


class Flaky:
    """Fails with ``error`` the first ``failures`` calls, then answers ``answer``."""

    def __init__(self, failures: int, error: Exception | None = None, answer: object = "ok"):
        self.failures = failures
        self.error = error or DatabaseUnavailable("down")
        self.answer = answer
        self.calls = 0

    async def __call__(self) -> object:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return self.answer


async def test_a_write_is_retried_until_the_database_answers() -> None:
    write = Flaky(failures=3)
    assert await write_until(write, lambda: time.monotonic() + 30) == "ok"
    assert write.calls == 4


async def test_a_write_is_given_up_once_the_hold_has_passed() -> None:
    write = Flaky(failures=1000)
    give_up_at = time.monotonic() + 0.5
    started = time.monotonic()
    with pytest.raises(DatabaseUnavailable):
        await write_until(write, lambda: give_up_at)
    assert 0.4 < time.monotonic() - started < 3.0
    assert 2 <= write.calls < 20  # backoff, not a busy loop


async def test_a_hold_extended_meanwhile_keeps_the_write_going() -> None:
    write = Flaky(failures=5)
    hold = [time.monotonic() + 0.2]

    def held_until() -> float:
        hold[0] = time.monotonic() + 0.2  # as each heartbeat that lands extends it
        return hold[0]

    assert await write_until(write, held_until) == "ok"


async def test_other_failures_are_not_retried() -> None:
    write = Flaky(failures=1, error=TransientFailure("smtp down"))
    with pytest.raises(TransientFailure):
        await write_until(write, lambda: time.monotonic() + 30)
    assert write.calls == 1


async def test_outside_an_attempt_a_step_is_tried_once() -> None:
    step = Flaky(failures=1)
    with pytest.raises(DatabaseUnavailable):
        await while_held(step)
    assert step.calls == 1


async def test_inside_an_attempt_a_step_is_retried_while_held() -> None:
    step = Flaky(failures=2)
    token = hold_for_attempt(lambda: time.monotonic() + 30)
    try:
        assert await while_held(step) == "ok"
    finally:
        release_attempt(token)
    assert step.calls == 3
