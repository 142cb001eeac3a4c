"""The ``content.unpin`` job: content of files deleted longer ago than the retention period
is unpinned from IPFS (a node may then garbage-collect it).

Deletion itself is soft and immediate for readers; the retention period is
the window in which an operator can still restore a file deleted by mistake.
It is the same for every kind of file: the job walks every kind's table (the
unit of work's ``files``). A CID another live file of the kind still uses stays
pinned.
"""

from __future__ import annotations

from datetime import timedelta

from domain.clock import Clock
from domain.files.model import ContentRef
from domain.files.ports import ContentStore, UnitOfWork
from domain.jobs.model import Job
from domain.settings import Settings
from domain.transactions import UnitOfWorkFactory

UNPIN_BATCH = 200


async def unpin_expired(
    job: Job,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    content: ContentStore,
    clock: Clock,
    settings: Settings,
) -> dict[str, int]:
    """The ``content.unpin`` handler; its result counts the files unpinned, by table."""
    return await unpin_files(uow_factory, content, clock, settings.content_retention_days)


async def unpin_files(
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    content: ContentStore,
    clock: Clock,
    retention_days: int,
) -> dict[str, int]:
    cutoff = clock.now() - timedelta(days=retention_days)
    due: dict[str, list[ContentRef]] = {}
    async with uow_factory() as uow:
        for table, files in uow.files.items():
            due[table] = await files.due_for_unpin(cutoff, UNPIN_BATCH)
    for table, refs in due.items():
        for ref in refs:
            await content.unpin(ref.cid)
            async with uow_factory() as uow:  # each one remembered as soon as it is done
                await uow.files[table].mark_unpinned(ref.id, clock.now())
    return {table: len(refs) for table, refs in due.items()}
