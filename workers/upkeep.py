"""Periodic upkeep the scheduler enqueues: each entry submits a job, nothing heavier."""

from __future__ import annotations

from collections.abc import Awaitable

import structlog

from domain.adapters.bootstrap import Services
from domain.audit_upkeep import enqueue_partition_upkeep
from domain.content_upkeep import enqueue_anchoring, enqueue_unpin
from domain.errors import DatabaseUnavailable
from domain.logging import exception_fields
from domain.ports import Submission
from workers.outages import DATABASE

log = structlog.get_logger(__name__)


async def _enqueue(name: str, submitting: Awaitable[Submission | None]) -> None:
    """Await one enqueue; a failure is logged and the next run (or a restart) tries again."""
    try:
        submission = await submitting
    except DatabaseUnavailable as exc:  # reported once per outage; the next run tries again
        DATABASE.failed(exc)
        return
    except Exception as exc:
        log.warning(f"{name}_enqueue_failed", **exception_fields(exc))
        return
    DATABASE.answered()
    if submission is not None and submission.created:
        log.info(f"{name}_enqueued", job_id=str(submission.job.id))


async def enqueue_audit_partitions(services: Services) -> None:
    """Today's partition upkeep job; a second call the same day finds the first (its key)."""
    await _enqueue(
        "audit_partitions",
        enqueue_partition_upkeep(services.uow, services.sender, services.clock.now()),
    )


async def enqueue_anchor_run(services: Services) -> None:
    """An anchoring job when records (or signed batches) wait and none is under way."""
    if services.ledger is None:
        return
    await _enqueue(
        "anchor_batch",
        enqueue_anchoring(services.uow, services.sender, include_signed=services.ledger.submits),
    )


async def enqueue_content_unpin(services: Services) -> None:
    await _enqueue(
        "content_unpin", enqueue_unpin(services.uow, services.sender, services.clock.now())
    )
