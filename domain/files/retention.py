"""The ``content.unpin`` job: content of files deleted longer ago than the retention period
is unpinned from IPFS (a node may then garbage-collect it).

Deletion itself is soft and immediate for readers; the retention period is
the window in which an operator can still restore a file deleted by mistake.
A CID another live record still uses stays pinned.
"""

from __future__ import annotations

from datetime import timedelta

import msgspec

from domain.clock import Clock
from domain.files.ports import ContentStore, UnitOfWork
from domain.jobs.model import Job
from domain.settings import Settings
from domain.transactions import UnitOfWorkFactory

UNPIN_BATCH = 200


class UnpinReport(msgspec.Struct, frozen=True):
    records: int
    documents: int


async def unpin_expired(
    job: Job,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    content: ContentStore,
    clock: Clock,
    settings: Settings,
) -> dict[str, int]:
    """The ``content.unpin`` handler."""
    report = await unpin_files(uow_factory, content, clock, settings.content_retention_days)
    return {"records": report.records, "documents": report.documents}


async def unpin_files(
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    content: ContentStore,
    clock: Clock,
    retention_days: int,
) -> UnpinReport:
    cutoff = clock.now() - timedelta(days=retention_days)
    async with uow_factory() as uow:
        records = await uow.records.due_for_unpin(cutoff, UNPIN_BATCH)
        documents = await uow.documents.due_for_unpin(cutoff, UNPIN_BATCH)
    for ref in records:
        await content.unpin(ref.cid)
        async with uow_factory() as uow:
            await uow.records.mark_unpinned(ref.id, clock.now())
    for ref in documents:
        await content.unpin(ref.cid)
        async with uow_factory() as uow:
            await uow.documents.mark_unpinned(ref.id, clock.now())
    return UnpinReport(records=len(records), documents=len(documents))
