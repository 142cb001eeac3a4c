"""The job state machine and retry schedules, as pure rules."""

from __future__ import annotations

import pytest

from domain.errors import InvalidTransition
from domain.jobs.model import TRANSITIONS, JobStatus, check_transition
from domain.jobs.system import NOOP
from domain.notifications.jobs import EMAIL_SEND

LEGAL = {
    ("claim", JobStatus.QUEUED): JobStatus.RUNNING,
    ("claim", JobStatus.RETRYING): JobStatus.RUNNING,
    ("succeed", JobStatus.RUNNING): JobStatus.SUCCEEDED,
    ("retry", JobStatus.RUNNING): JobStatus.RETRYING,
    ("fail", JobStatus.RUNNING): JobStatus.FAILED,
    ("recover", JobStatus.RUNNING): JobStatus.RETRYING,
    ("abandon", JobStatus.RUNNING): JobStatus.FAILED,
    ("cancel", JobStatus.QUEUED): JobStatus.CANCELLED,
    ("cancel", JobStatus.RETRYING): JobStatus.CANCELLED,
    ("resubmit", JobStatus.FAILED): JobStatus.QUEUED,
}


@pytest.mark.parametrize("transition", sorted(TRANSITIONS))
@pytest.mark.parametrize("status", list(JobStatus))
def test_every_transition_from_every_status(transition: str, status: JobStatus) -> None:
    expected = LEGAL.get((transition, status))
    if expected is None:
        with pytest.raises(InvalidTransition):
            check_transition(transition, status)
    else:
        assert check_transition(transition, status) is expected


def test_final_statuses_have_no_way_out_but_an_operator_resubmit() -> None:
    for status in (JobStatus.SUCCEEDED, JobStatus.CANCELLED):
        assert status.is_final
        assert all((t, status) not in LEGAL for t in TRANSITIONS)
    assert [t for t in TRANSITIONS if (t, JobStatus.FAILED) in LEGAL] == ["resubmit"]


def test_email_schedule_is_immediately_then_5_15_60_minutes_then_failed() -> None:
    assert EMAIL_SEND.max_attempts == 5
    delays = [EMAIL_SEND.next_retry_delay(attempts, 5) for attempts in range(1, 6)]
    assert delays == [0.0, 300.0, 900.0, 3600.0, None]


def test_a_resubmitted_job_restarts_its_schedule() -> None:
    # failed after 5 attempts; an operator grants a whole schedule more: max 10
    delays = [EMAIL_SEND.next_retry_delay(attempts, 10) for attempts in range(6, 11)]
    assert delays == [0.0, 300.0, 900.0, 3600.0, None]


def test_noop_kind_gets_one_retry() -> None:
    assert NOOP.max_attempts == 2
    assert NOOP.next_retry_delay(1, 2) == 0.0
    assert NOOP.next_retry_delay(2, 2) is None
