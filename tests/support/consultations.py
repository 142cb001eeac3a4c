"""Consultations straight into the store, for tests that need one in a given state."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from domain.adapters.bootstrap import Services
from domain.consultations.model import Consultation, ConsultationStatus, new_room


async def add_consultation(
    services: Services,
    patient_id: uuid.UUID,
    doctor_id: uuid.UUID,
    status: ConsultationStatus = ConsultationStatus.CONFIRMED,
    starts_in: timedelta = timedelta(days=3),
    idempotency_key: str | None = None,
    starts_at: datetime | None = None,
) -> Consultation:
    """A consultation ``starts_in`` from now (to the minute), or at ``starts_at`` when given."""
    now = datetime.now(UTC)
    starts_at = starts_at or (now + starts_in).replace(second=0, microsecond=0)
    consultation = Consultation(
        id=uuid.uuid4(),
        patient_id=patient_id,
        doctor_id=doctor_id,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=30),
        blocked_until=starts_at + timedelta(minutes=30),
        status=status,
        room=f"https://meet.example.org/{new_room()}",
        created_at=now,
        updated_at=now,
        hold_expires_at=now + timedelta(minutes=5) if status is ConsultationStatus.HELD else None,
    )
    async with services.uow() as uow:
        await uow.consultations.add(consultation, idempotency_key, b"")
    return consultation


async def archive_now(services: Services, after_days: int = 30, limit: int = 500) -> int:
    """Move what finished ``after_days`` ago to the history, as one batch of the job does."""
    now = datetime.now(UTC)
    async with services.uow() as uow:
        return await uow.consultations.archive(now - timedelta(days=after_days), now, limit)
