"""Periodic upkeep the scheduler enqueues: each entry submits a job, nothing heavier."""

from __future__ import annotations

import structlog

from domain.adapters.bootstrap import Services
from domain.audit_upkeep import enqueue_partition_upkeep
from domain.logging import exception_fields

log = structlog.get_logger(__name__)


async def enqueue_audit_partitions(services: Services) -> None:
    """Today's partition upkeep job; a second call the same day finds the first (its key)."""
    try:
        submission = await enqueue_partition_upkeep(
            services.uow, services.sender, services.clock.now()
        )
    except Exception as exc:  # the next run (or the scheduler's restart) tries again
        log.warning("audit_partitions_enqueue_failed", **exception_fields(exc))
        return
    if submission.created:
        log.info("audit_partitions_enqueued", job_id=str(submission.job.id))
