"""Reading the audit trail is itself audited: who looked, and when.

The read and its record are separate transactions on purpose: the record is
linked into the chain after its own commit, under the chain's lock, and a read
that held a transaction (or that lock) across a long verification would hold
back every audited write's linking. The record is written after the read
succeeds and before anything is answered, so no answer leaves without its trace.
"""

from __future__ import annotations

import structlog

from domain.audit.ports import AuditStore, UnitOfWork
from domain.audit.trail import AuditPage, AuditQuery, ChainReport
from domain.auditing import AuditContext, AuditEntry
from domain.errors import ValidationFailed
from domain.transactions import UnitOfWorkFactory

log = structlog.get_logger(__name__)

READ = "audit.read"


async def _record_read(
    uow_factory: UnitOfWorkFactory[UnitOfWork], context: AuditContext, what: str
) -> None:
    async with uow_factory(autocommit=True) as uow:
        await uow.audit.record(context, AuditEntry(action=READ, resource_type=what))


async def list_events(
    context: AuditContext,
    query: AuditQuery,
    limit: int,
    cursor: str | None,
    *,
    audit_store: AuditStore,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
) -> AuditPage:
    if query.since and query.until and query.since >= query.until:
        raise ValidationFailed("from must be earlier than to", field="from")
    page = await audit_store.page(query, limit=limit, cursor=cursor)
    await _record_read(uow_factory, context, "audit_events")
    return page


async def verify_trail(
    context: AuditContext,
    *,
    audit_store: AuditStore,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
) -> ChainReport:
    report = await audit_store.verify()
    if report.first_broken is not None:
        log.error(
            "audit_chain_broken",
            seq=report.first_broken.seq,
            reason=report.first_broken.reason,
            checked=report.checked,
        )
    await _record_read(uow_factory, context, "audit_chain")
    return report
