"""The scans feature's stores in memory: readings (kept as the adapter keeps them, one per
scan, a later one replacing it) and scans awaiting the OCR provider, with the adapter's rules
(only an awaiting request ends; a retry does not re-open a reference already answered)."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec

from domain.clock import Clock
from domain.scans.awaiting import ProviderRequest, ProviderStatus
from domain.scans.model import ScanReading
from tests.fakes.database import FakeDatabase


class FakeScanReadings:
    def __init__(self, database: FakeDatabase, clock: Clock) -> None:
        self._rows: dict[str, ScanReading] = database.table("scan_readings")
        self._confirmed: dict[str, uuid.UUID] = database.table("scan_confirmations")

    async def put(self, reading: ScanReading) -> None:
        self._rows[reading.scan_id] = reading

    async def get(self, scan_id: uuid.UUID) -> ScanReading | None:
        return self._rows.get(str(scan_id))

    async def confirm(self, scan_id: uuid.UUID, prescription_id: uuid.UUID, at: datetime) -> bool:
        if str(scan_id) in self._confirmed:
            return False
        self._confirmed[str(scan_id)] = prescription_id
        return True


class FakeProviderRequests:
    def __init__(self, database: FakeDatabase, clock: Clock) -> None:
        self._rows: dict[uuid.UUID, ProviderRequest] = database.table("scan_provider_requests")

    async def start(self, scan_id: uuid.UUID, reference: uuid.UUID, now: datetime) -> bool:
        found = self._rows.get(scan_id)
        if found and found.status is ProviderStatus.ANSWERED and found.reference == reference:
            return False
        self._rows[scan_id] = ProviderRequest(
            scan_id=scan_id,
            reference=reference,
            status=ProviderStatus.AWAITING,
            reason=None,
            requested_at=now,
            finished_at=None,
        )
        return True

    async def by_reference(self, reference: uuid.UUID) -> ProviderRequest | None:
        return next((row for row in self._rows.values() if row.reference == reference), None)

    async def of_scan(self, scan_id: uuid.UUID) -> ProviderRequest | None:
        return self._rows.get(scan_id)

    async def finish(
        self, scan_id: uuid.UUID, status: ProviderStatus, reason: str | None, now: datetime
    ) -> bool:
        found = self._rows.get(scan_id)
        if found is None or found.status is not ProviderStatus.AWAITING:
            return False
        self._rows[scan_id] = msgspec.structs.replace(
            found, status=status, reason=reason, finished_at=now
        )
        return True

    async def overdue(self, requested_before: datetime, limit: int) -> list[uuid.UUID]:
        due = sorted(
            (
                row
                for row in self._rows.values()
                if row.status is ProviderStatus.AWAITING and row.requested_at < requested_before
            ),
            key=lambda row: row.requested_at,
        )
        return [row.scan_id for row in due[:limit]]


class FakeScanUsage:
    """The adapter's count: the patient's scans since ``since`` (deleted ones too) and their
    scan uploads waiting for a storing job. One fake transaction runs at a time, so the lock
    the adapter takes has nothing to order here (the integration tests race real ones)."""

    def __init__(self, database: FakeDatabase, clock: Clock) -> None:
        self._scans = database.table("scans")
        self._uploads = database.table("uploads")

    async def lock_and_count(self, patient_id: uuid.UUID, since: datetime) -> int:
        return await self.count(patient_id, since)

    async def count(self, patient_id: uuid.UUID, since: datetime) -> int:
        scans = [
            row.file
            for row in self._scans.values()
            if row.file.patient_id == patient_id and row.file.created_at >= since
        ]
        waiting = [
            upload
            for upload in self._uploads.values()
            if upload.purpose == "scan"
            and upload.patient_id == patient_id
            and upload.created_at >= since
        ]
        return len(scans) + len(waiting)
