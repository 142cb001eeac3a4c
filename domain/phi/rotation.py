"""Re-sealing PHI under the active key, so an old key can be retired.

The job walks every sealed column (``domain.phi.columns.SEALED_COLUMNS``) in batches,
each its own transaction: rows still sealed under another key are locked
(``SKIP LOCKED``, so a user's own update or a second run is never waited on),
opened with their old key, sealed with the active one under the same context,
written back, and the batch is audited in that transaction. A crash loses at
most the batch in flight; rerunning finds only what is still stale, so the
job is idempotent and resumable. A value that will not open is skipped and
counted, never overwritten: the job then fails so nobody retires its key.
"""

from __future__ import annotations

from typing import Any

import msgspec
import structlog

from domain.auditing import SYSTEM, AuditContext, AuditEntry
from domain.errors import PermanentFailure, SealBroken
from domain.jobs.model import Job
from domain.phi.columns import SEALED_COLUMNS
from domain.phi.ports import SealedValue, UnitOfWork
from domain.sealing import Cipher, SealedColumn
from domain.transactions import UnitOfWorkFactory

log = structlog.get_logger(__name__)

ROTATE_BATCH_SIZE = 500


def column_name(column: SealedColumn) -> str:
    return f"{column.table}.{column.column}"


class ColumnRotation(msgspec.Struct):
    """Counts for one column across its batches."""

    resealed: int = 0
    unreadable: int = 0


async def _reseal_batch(
    uow: UnitOfWork,
    cipher: Cipher,
    column: SealedColumn,
    context: AuditContext,
    batch: list[SealedValue],
    counts: ColumnRotation,
) -> None:
    resealed = 0
    for value in batch:
        place = column.context(value.row_id)
        try:
            plaintext = cipher.open(value.sealed, place)
        except SealBroken:
            counts.unreadable += 1
            log.warning(
                "phi_value_unreadable",
                column=column_name(column),
                row_id=str(value.row_id),
                key_id=value.sealed.key_id,
            )
            continue
        await uow.sealed.replace(column, value, cipher.seal(plaintext, place))
        resealed += 1
    if resealed:
        await uow.audit.record(
            context,
            AuditEntry(
                action="phi.rotate", resource_type=column.table, changed_fields=(column.column,)
            ),
        )
    counts.resealed += resealed


async def rotate_column(
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    cipher: Cipher,
    column: SealedColumn,
    context: AuditContext,
    batch_size: int = ROTATE_BATCH_SIZE,
) -> ColumnRotation:
    """Re-seal every value of ``column`` not under the active key, one batch per transaction.

    Batches advance by row key, so a value that cannot be opened (or a row
    another transaction holds) is passed over instead of being picked forever.
    """
    counts = ColumnRotation()
    after = None
    while True:
        async with uow_factory() as uow:
            batch = await uow.sealed.stale(column, cipher.active_key_id, after, batch_size)
            if batch:
                await _reseal_batch(uow, cipher, column, context, batch, counts)
        if len(batch) < batch_size:
            return counts
        after = batch[-1].row_id


class RotationReport(msgspec.Struct):
    """Per column (``table.column``): values re-sealed, and values that would not open."""

    resealed: dict[str, int] = msgspec.field(default_factory=dict)
    unreadable: dict[str, int] = msgspec.field(default_factory=dict)


async def rotate_keys(
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    cipher: Cipher,
    context: AuditContext,
    *,
    columns: tuple[SealedColumn, ...] = SEALED_COLUMNS,
    batch_size: int = ROTATE_BATCH_SIZE,
) -> RotationReport:
    report = RotationReport()
    for column in columns:
        counts = await rotate_column(uow_factory, cipher, column, context, batch_size)
        report.resealed[column_name(column)] = counts.resealed
        if counts.unreadable:
            report.unreadable[column_name(column)] = counts.unreadable
    return report


async def rotate_phi_keys(
    job: Job, *, uow_factory: UnitOfWorkFactory[UnitOfWork], cipher: Cipher
) -> dict[str, Any]:
    """The ``phi.rotate`` handler: every sealed column re-sealed under the active key."""
    report = await rotate_keys(uow_factory, cipher, SYSTEM)
    if report.unreadable:
        counts = ", ".join(f"{column}: {n}" for column, n in sorted(report.unreadable.items()))
        # Failing (not succeeding with a footnote) keeps anyone from retiring the old key.
        raise PermanentFailure(
            f"some sealed values could not be opened and were left as they are ({counts}); "
            "keep every key they may be sealed with in PHI_KEYS",
            code="phi_unreadable",
        )
    return {"resealed": report.resealed}
