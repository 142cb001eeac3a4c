"""What every feature records on the audit trail, and the port it records through.

Part of the shared kernel: any change, and any read of patient data, is
written as an ``AuditEntry`` by the ``AuditLog`` of the transaction that made
it. The trail itself (its hash chain, reading and verifying it, its
partitions) is the audit feature's (domain/audit/).
"""

from __future__ import annotations

import enum
from typing import Protocol

import msgspec


class AuditLog(Protocol):
    """Appends to the audit trail inside the current transaction."""

    async def record(self, context: AuditContext, entry: AuditEntry) -> None: ...


class Outcome(enum.StrEnum):
    SUCCESS = "success"
    DENIED = "denied"
    FAILED = "failed"


class AuditContext(msgspec.Struct, frozen=True, kw_only=True):
    """Who is acting and from where; built once per request (or job) and passed down."""

    actor_id: str | None
    actor_role: str | None
    ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None


SYSTEM = AuditContext(actor_id="system", actor_role="system")


class AuditEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One thing that happened, as a service reports it."""

    action: str
    resource_type: str
    resource_id: str | None = None
    outcome: Outcome = Outcome.SUCCESS
    status_code: int | None = None
    changed_fields: tuple[str, ...] = ()
