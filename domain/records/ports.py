"""Where medical records are kept."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from domain.anchoring.model import Placement
from domain.anchoring.ports import AnchorBatchRepository
from domain.auditing import AuditLog
from domain.connections.ports import ConnectionRepository
from domain.files.ports import ContentRef, UploadRepository
from domain.jobs.ports import JobRepository
from domain.patients.ports import PatientRepository
from domain.records.model import RecordPage, RecordQuery, StoredRecord


class RecordRepository(Protocol):
    async def add(self, record: StoredRecord) -> None: ...

    async def get(self, record_id: uuid.UUID) -> StoredRecord | None:
        """A record that is not deleted."""
        ...

    async def by_job(self, job_id: uuid.UUID) -> StoredRecord | None: ...

    async def page(self, query: RecordQuery) -> RecordPage: ...

    async def soft_delete(self, record_id: uuid.UUID, by: uuid.UUID, at: datetime) -> bool: ...

    async def unbatched(self, limit: int) -> list[StoredRecord]:
        """Lock up to ``limit`` records not yet in a batch, oldest first (skips locked rows)."""
        ...

    async def place_in_batch(
        self, batch_id: uuid.UUID, placements: Sequence[Placement]
    ) -> None: ...

    async def mark_anchored(self, batch_id: uuid.UUID, tx_hash: str) -> int:
        """Every record of the batch is anchored, and its job's result says so; returns how many."""
        ...

    async def due_for_unpin(self, deleted_before: datetime, limit: int) -> list[ContentRef]:
        """Records deleted before ``deleted_before`` whose CID no live record still uses."""
        ...

    async def mark_unpinned(self, record_id: uuid.UUID, at: datetime) -> None: ...


class UnitOfWork(Protocol):
    """What the records feature reads and writes in one database transaction."""

    records: RecordRepository
    anchors: AnchorBatchRepository
    uploads: UploadRepository
    connections: ConnectionRepository
    patients: PatientRepository
    jobs: JobRepository
    audit: AuditLog
