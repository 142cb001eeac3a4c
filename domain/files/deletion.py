"""Deleting a patient's file, of any kind: soft, and at once for every reader.

The row stays, marked deleted (by whom, when), so an operator can still restore
a file deleted by mistake; its content is unpinned from IPFS once the retention
period has passed (domain/files/retention.py). For a kind anchored on Stellar,
the file's anchor proof stays valid forever.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from domain.auditing import AuditContext
from domain.clock import Clock
from domain.errors import NotFound
from domain.files.ports import UnitOfWork
from domain.files.reading import authorized_file, file_entry
from domain.policies import Access, user_uuid
from domain.transactions import UnitOfWorkFactory

if TYPE_CHECKING:
    from domain.files.kind import FileKind


async def delete_file(
    kind: FileKind,
    access: Access,
    audit: AuditContext,
    file_id: uuid.UUID,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
) -> None:
    async with uow_factory() as uow:
        await authorized_file(uow, kind, access, file_id)
        actor = user_uuid(access.principal)
        deleted = actor is not None and await uow.files[kind.table].soft_delete(
            file_id, actor, clock.now()
        )
        if not deleted:
            raise NotFound(f"{kind.name} not found")
        await uow.audit.record(audit, file_entry(kind, "delete", file_id))
