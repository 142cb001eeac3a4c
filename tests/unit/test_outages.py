"""An outage is said once when it starts and once when it ends; an attempt that began
during it and failed only after the end (it waited on the old outage) says nothing."""

from __future__ import annotations

import time

from structlog.testing import capture_logs

from workers.outages import Outage


def events(logs: list[dict]) -> list[str]:
    return [entry["event"] for entry in logs]


def test_one_line_when_it_goes_and_one_when_it_is_back() -> None:
    outage = Outage("postgres")
    with capture_logs() as logs:
        for _ in range(5):
            outage.failed(ConnectionError())
        outage.answered()
        outage.answered()
    assert events(logs) == ["dependency_unavailable", "dependency_back"]
    assert not outage.ongoing


def said_after_a_return(attempt_started_before_it: bool) -> tuple[list[str], bool]:
    """An outage, its return, then a failure of an attempt begun before or after the return:
    what was logged, and whether an outage is ongoing after it."""
    outage = Outage("postgres")
    with capture_logs() as logs:
        outage.failed(ConnectionError())
        begun_before = time.monotonic()
        outage.answered()
        started = begun_before if attempt_started_before_it else time.monotonic()
        outage.failed(TimeoutError(), attempt_started=started)
    return events(logs), outage.ongoing


def test_an_attempt_begun_before_the_return_that_fails_after_it_is_not_a_new_outage() -> None:
    assert said_after_a_return(attempt_started_before_it=True) == (
        ["dependency_unavailable", "dependency_back"],
        False,
    )


def test_an_attempt_begun_after_the_return_that_fails_is_a_new_outage() -> None:
    assert said_after_a_return(attempt_started_before_it=False) == (
        ["dependency_unavailable", "dependency_back", "dependency_unavailable"],
        True,
    )
