"""The sweep that links audit events left pending, so none waits for the next audited write.

An audited write links its events into the chain right after its commit; if that fails
(the pool or the database was too busy, the writer died), the events stay in
``audit_pending``. Reads of the trail link them first, and so does the next write; this
sweep links them when neither comes. The scheduler looks every
``AUDIT_CHAIN_INTERVAL_SECONDS`` and plans an ``audit.chain_pending`` job only when an
event has been pending longer than that (domain/audit/jobs.py): most looks plan nothing.
"""

from __future__ import annotations

from typing import Any

import structlog

from domain.audit.ports import AuditStore
from domain.jobs.model import Job

log = structlog.get_logger(__name__)


async def link_pending_events(job: Job, *, audit_store: AuditStore) -> dict[str, Any]:
    linked = await audit_store.link_pending()
    if linked:
        log.warning("audit_pending_linked_late", linked=linked)
    return {"linked": linked}
