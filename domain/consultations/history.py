"""Moving finished consultations to the history, so the live table stays small.

The live table keeps what the exclusion constraint must see (and what is still going on);
PostgreSQL cannot enforce that constraint across partitions, so only consultations that
finished (completed, cancelled, no-show, released) more than CONSULTATION_HISTORY_AFTER_DAYS
ago move, into a table partitioned by month. Each batch is one transaction that locks its
rows with SKIP LOCKED: a consultation being changed (notes written, a late payment settled)
is passed over and moved by a later run, never half-way. Rerunning moves only what is left,
so the job is idempotent; the reads look in both tables, so nobody sees the move.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from domain.auditing import SYSTEM, AuditEntry
from domain.clock import Clock
from domain.consultations.ports import UnitOfWork
from domain.jobs.model import Job
from domain.settings import Settings
from domain.transactions import UnitOfWorkFactory

ARCHIVE_BATCH = 500


async def archive_finished(
    job: Job,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
    settings: Settings,
    batch_size: int = ARCHIVE_BATCH,
) -> dict[str, Any]:
    """The ``consultation.archive`` handler: batches until one comes back short."""
    finished_before = clock.now() - timedelta(days=settings.consultation_history_after_days)
    moved = 0
    while True:
        async with uow_factory() as uow:
            count = await uow.consultations.archive(finished_before, clock.now(), batch_size)
            if count:
                await uow.audit.record(
                    SYSTEM,
                    AuditEntry(
                        action="consultation.archive",
                        resource_type="consultation",
                        changed_fields=("table",),
                    ),
                )
        moved += count
        if count < batch_size:
            return {"moved": moved}
