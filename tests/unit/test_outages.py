"""An outage is said once when it starts and once when it ends; an attempt that began
during it and failed only after the end (it waited on the old outage) says nothing, nor
does one that began before it was said and succeeded after (it got through before)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from workers import outages
from workers.outages import Outage


class Said:
    """Stands in for the module's logger (structlog may be configured, and its loggers
    cached, by earlier tests: what the module logs is read here, whatever that config)."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def warning(self, event: str, **_: Any) -> None:
        self.events.append(event)

    info = warning


@pytest.fixture
def said(monkeypatch: pytest.MonkeyPatch) -> Said:
    recorder = Said()
    monkeypatch.setattr(outages, "log", recorder)
    return recorder


def test_one_line_when_it_goes_and_one_when_it_is_back(said: Said) -> None:
    outage = Outage("postgres")
    for _ in range(5):
        outage.failed(ConnectionError())
    outage.answered()
    outage.answered()
    assert said.events == ["dependency_unavailable", "dependency_back"]
    assert not outage.ongoing


def said_after_a_return(said: Said, attempt_started_before_it: bool) -> tuple[list[str], bool]:
    """An outage, its return, then a failure of an attempt begun before or after the return:
    what was logged, and whether an outage is ongoing after it."""
    outage = Outage("postgres")
    outage.failed(ConnectionError())
    begun_before = time.monotonic()
    outage.answered()
    started = begun_before if attempt_started_before_it else time.monotonic()
    outage.failed(TimeoutError(), attempt_started=started)
    return said.events, outage.ongoing


def test_an_attempt_begun_before_the_return_that_fails_after_it_is_not_a_new_outage(
    said: Said,
) -> None:
    assert said_after_a_return(said, attempt_started_before_it=True) == (
        ["dependency_unavailable", "dependency_back"],
        False,
    )


def test_an_attempt_begun_after_the_return_that_fails_is_a_new_outage(said: Said) -> None:
    assert said_after_a_return(said, attempt_started_before_it=False) == (
        ["dependency_unavailable", "dependency_back", "dependency_unavailable"],
        True,
    )


def said_during_an_outage(said: Said, attempt_started_before_it: bool) -> tuple[list[str], bool]:
    """A success, during an outage, of an attempt begun before or after it was reported."""
    outage = Outage("postgres")
    begun_before = time.monotonic()
    outage.failed(ConnectionError())  # a new connection refused: the server is shutting down
    started = begun_before if attempt_started_before_it else time.monotonic()
    outage.answered(attempt_started=started)
    return said.events, outage.ongoing


def test_an_attempt_begun_before_the_outage_that_succeeds_does_not_end_it(said: Said) -> None:
    assert said_during_an_outage(said, attempt_started_before_it=True) == (
        ["dependency_unavailable"],
        True,
    )


def test_an_attempt_begun_after_the_outage_was_said_that_succeeds_ends_it(said: Said) -> None:
    assert said_during_an_outage(said, attempt_started_before_it=False) == (
        ["dependency_unavailable", "dependency_back"],
        False,
    )
