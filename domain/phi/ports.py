"""Sealed values read and rewritten as they are, for key rotation."""

from __future__ import annotations

import uuid
from typing import Any, Protocol

import msgspec

from domain.auditing import AuditLog
from domain.jobs.ports import JobRepository
from domain.sealing import Sealed, SealedColumn


class SealedValue(msgspec.Struct, frozen=True):
    row_id: uuid.UUID
    sealed: Sealed
    partition: Any = None  # the row's partition column's value, if its table is partitioned


class SealedValueRepository(Protocol):
    """Sealed PHI columns as stored values, inside the caller's transaction (key rotation)."""

    async def stale(
        self, column: SealedColumn, active_key_id: str, after: uuid.UUID | None, limit: int
    ) -> list[SealedValue]:
        """Lock and return up to ``limit`` values sealed under another key, by row key order."""
        ...

    async def replace(self, column: SealedColumn, value: SealedValue, sealed: Sealed) -> None:
        """Rewrite ``value`` (as ``stale`` read it) with ``sealed``."""
        ...


class UnitOfWork(Protocol):
    """What the phi feature reads and writes in one database transaction."""

    sealed: SealedValueRepository
    audit: AuditLog
    jobs: JobRepository
