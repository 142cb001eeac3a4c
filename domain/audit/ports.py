"""Reading the audit trail and keeping its partitions: the stores behind them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Protocol

import msgspec

from domain.audit.trail import AuditPage, AuditQuery, ChainReport
from domain.auditing import AuditLog
from domain.jobs.ports import JobRepository


class AuditStore(Protocol):
    """The audit trail outside any business transaction: listing it and checking its chain."""

    async def page(self, query: AuditQuery, *, limit: int, cursor: str | None) -> AuditPage: ...

    async def verify(self) -> ChainReport: ...

    async def link_pending(self) -> int:
        """Link every committed event still pending into the chain; how many were linked."""
        ...

    async def oldest_pending(self) -> datetime | None:
        """When the oldest event still pending was recorded; None if none is."""
        ...


class PartitionUpkeep(msgspec.Struct, frozen=True):
    created: list[str]  # partition tables made
    moved: int  # events re-routed out of the default partition


class AuditPartitions(Protocol):
    async def ensure(self, first_month: date, months: int) -> PartitionUpkeep:
        """Make the monthly partitions from ``first_month`` on, moving any early arrivals."""
        ...


class UnitOfWork(Protocol):
    """What the audit feature reads and writes in one database transaction."""

    audit: AuditLog
    jobs: JobRepository
