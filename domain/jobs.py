"""The job state machine and the catalogue of job kinds.

A job's row in PostgreSQL is the truth; a Redis message only says "look at
job X now". Every transition below is applied as one guarded UPDATE, so the
table here is the single statement of which moves are legal.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

import msgspec

from domain.errors import InvalidTransition, NotFound


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES


FINAL_STATUSES = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})

# Which statuses a transition may start from. The store uses these sets in
# its WHERE clauses; nothing else decides legality.
TRANSITIONS: dict[str, tuple[frozenset[JobStatus], JobStatus]] = {
    "claim": (frozenset({JobStatus.QUEUED, JobStatus.RETRYING}), JobStatus.RUNNING),
    "succeed": (frozenset({JobStatus.RUNNING}), JobStatus.SUCCEEDED),
    "retry": (frozenset({JobStatus.RUNNING}), JobStatus.RETRYING),
    "fail": (frozenset({JobStatus.RUNNING}), JobStatus.FAILED),
    "recover": (frozenset({JobStatus.RUNNING}), JobStatus.RETRYING),
    "abandon": (frozenset({JobStatus.RUNNING}), JobStatus.FAILED),
    "cancel": (frozenset({JobStatus.QUEUED, JobStatus.RETRYING}), JobStatus.CANCELLED),
    "resubmit": (frozenset({JobStatus.FAILED}), JobStatus.QUEUED),
}


def allowed_from(transition: str) -> frozenset[JobStatus]:
    return TRANSITIONS[transition][0]


def target_of(transition: str) -> JobStatus:
    return TRANSITIONS[transition][1]


def check_transition(transition: str, current: JobStatus) -> JobStatus:
    """Return the status ``transition`` leads to from ``current``, or raise."""
    sources, target = TRANSITIONS[transition]
    if current not in sources:
        raise InvalidTransition(f"cannot {transition} a job that is {current.value}")
    return target


class JobKind(msgspec.Struct, frozen=True):
    """What the platform knows about one kind of job: where it runs and how it retries.

    ``retry_delays`` are the waits, in seconds, before the 2nd, 3rd, ... attempt;
    so ``max_attempts`` is one more than their number.
    """

    name: str
    queue: str
    actor_name: str
    retry_delays: tuple[float, ...] = ()

    @property
    def max_attempts(self) -> int:
        return len(self.retry_delays) + 1

    def next_retry_delay(self, attempts: int, max_attempts: int) -> float | None:
        """Seconds to wait before the next attempt, or None when none is left.

        ``max_attempts`` is the job's own (an operator's resubmit raises it by a
        whole schedule), so the schedule restarts from its first delay then.
        """
        if attempts >= max_attempts or not self.retry_delays:
            return None
        retries_this_round = attempts - (max_attempts - self.max_attempts) - 1
        index = min(max(retries_this_round, 0), len(self.retry_delays) - 1)
        return self.retry_delays[index]


EMAIL_SEND = JobKind(
    name="email.send",
    queue="email",
    actor_name="email_send",
    # immediately, then 5 min, 15 min, 1 h; then failed.
    retry_delays=(0.0, 300.0, 900.0, 3600.0),
)
NOOP = JobKind(name="system.noop", queue="default", actor_name="system_noop", retry_delays=(0.0,))
AUDIT_PARTITIONS = JobKind(
    name="audit.partitions",
    queue="default",
    actor_name="audit_partitions",
    retry_delays=(60.0, 600.0, 3600.0),
)
PHI_ROTATE = JobKind(
    name="phi.rotate", queue="default", actor_name="phi_rotate", retry_delays=(60.0, 600.0)
)

# IPFS faults are usually short (a node restarting): retry soon, then back off.
_CONTENT_RETRIES = (0.0, 10.0, 60.0, 300.0, 900.0)
RECORD_STORE = JobKind(
    name="record.store", queue="ipfs", actor_name="record_store", retry_delays=_CONTENT_RETRIES
)
DOCUMENT_STORE = JobKind(
    name="document.store", queue="ipfs", actor_name="document_store", retry_delays=_CONTENT_RETRIES
)
CONTENT_UNPIN = JobKind(
    name="content.unpin", queue="ipfs", actor_name="content_unpin", retry_delays=(60.0, 600.0)
)
# One anchoring run at a time (they share the account's sequence number): the stellar queue
# has a one-thread pool in the Procfile, and the run takes an advisory lock besides.
ANCHOR_BATCH = JobKind(
    name="anchor.batch",
    queue="stellar",
    actor_name="anchor_batch",
    retry_delays=(5.0, 15.0, 60.0, 300.0),
)

JOB_KINDS: dict[str, JobKind] = {
    kind.name: kind
    for kind in (
        EMAIL_SEND,
        NOOP,
        AUDIT_PARTITIONS,
        PHI_ROTATE,
        RECORD_STORE,
        DOCUMENT_STORE,
        CONTENT_UNPIN,
        ANCHOR_BATCH,
    )
}


def kind_named(name: str) -> JobKind:
    try:
        return JOB_KINDS[name]
    except KeyError:
        raise NotFound("unknown job kind") from None


class JobError(msgspec.Struct, frozen=True):
    """Why a job attempt failed: a stable code and a message safe to show a client."""

    code: str
    message: str


class Job(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    kind: str
    queue: str
    status: JobStatus
    payload: dict[str, Any]
    result: dict[str, Any] | None
    error: JobError | None
    attempts: int
    max_attempts: int
    owner_id: str
    idempotency_key: str | None
    request_hash: str | None
    run_after: datetime
    heartbeat_at: datetime | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class JobEvent(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    job_id: uuid.UUID
    from_status: JobStatus | None
    to_status: JobStatus
    attempt: int
    error: JobError | None
    at: datetime


class NewJob(msgspec.Struct, frozen=True, kw_only=True):
    """A job about to be enqueued. The payload holds ids only, never PHI."""

    kind: JobKind
    owner_id: str
    payload: dict[str, Any]
    idempotency_key: str | None = None
    # The command's canonical content (``domain.submit.canonical_request``), to tell an
    # idempotent replay from a reuse of its key. It is never stored: the job row keeps only
    # a keyed fingerprint of it, and only when there is an idempotency key.
    request: bytes | None = None
