"""Audit trail upkeep: the handler behind ``audit.partitions``."""

from __future__ import annotations

from typing import Any

from domain.adapters.bootstrap import Services
from domain.audit import SYSTEM, AuditEntry
from domain.audit_upkeep import requested_months
from domain.errors import PermanentFailure
from domain.jobs import Job


async def maintain_partitions(job: Job, services: Services) -> dict[str, Any]:
    try:
        first_month, months = requested_months(job)
    except (KeyError, TypeError, ValueError):
        raise PermanentFailure(
            "the job does not name the months to prepare", code="audit_partitions_payload_invalid"
        ) from None
    upkeep = await services.audit_partitions.ensure(first_month, months)
    if upkeep.created or upkeep.moved:
        async with services.uow() as uow:
            await uow.audit.record(
                SYSTEM,
                AuditEntry(
                    action="audit.partitions",
                    resource_type="audit_events",
                    resource_id=",".join(upkeep.created) or None,
                ),
            )
    return {"created": upkeep.created, "moved": upkeep.moved}
