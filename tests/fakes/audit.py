"""The audit trail's write port, in memory: what a use case recorded, in order."""

from __future__ import annotations

from domain.auditing import AuditContext, AuditEntry
from domain.clock import Clock
from tests.fakes.database import FakeDatabase


class FakeAuditLog:
    def __init__(self, database: FakeDatabase, clock: Clock) -> None:
        self._events = database.table("audit_events")

    async def record(self, context: AuditContext, entry: AuditEntry) -> None:
        self._events[len(self._events)] = (context, entry)


def audited(database: FakeDatabase) -> list[AuditEntry]:
    """The entries recorded, oldest first."""
    return [entry for _, entry in database.table("audit_events").values()]
