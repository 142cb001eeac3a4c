"""Prescriptions and doses for tests that are not about writing them: stored directly, as the
API would store them (items checked and sealed by the real store)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from domain.adapters.bootstrap import Services
from domain.doses.model import Dose, DoseStatus
from domain.prescriptions.model import (
    ItemInput,
    PrescriptionSource,
    PrescriptionStatus,
    checked_items,
    new_prescription,
)
from tests.support.medicines import seeded_medicine


async def add_prescription(
    services: Services,
    patient_id: uuid.UUID,
    doctor_id: uuid.UUID | None,
    status: PrescriptionStatus = PrescriptionStatus.DRAFT,
) -> uuid.UUID:
    """A week of paracetamol 500 mg TID, from today, in ``status``; with no doctor, the
    patient's own record of a scanned paper prescription (by "Dr. Sok Dara", as printed)."""
    medicine = uuid.UUID(await seeded_medicine(services, "paracetamol"))
    now = datetime.now(UTC)
    item = ItemInput(
        medicine_id=medicine,
        strength="500 mg",
        dose_amount="1",
        dose_form="tablet",
        frequency="TID",
        start_date=now.date(),
        duration_days=7,
    )
    async with services.uow() as uow:
        medicines = await uow.medicines.many([medicine])
        prescription = new_prescription(
            patient_id,
            doctor_id,
            checked_items([item], medicines, now.date()),
            now,
            source=PrescriptionSource.MANUAL if doctor_id else PrescriptionSource.SCAN,
            printed_prescriber=None if doctor_id else "Dr. Sok Dara",
        )
        await uow.prescriptions.add(prescription)
        if status is not PrescriptionStatus.DRAFT:
            await uow.prescriptions.move(prescription.id, PrescriptionStatus.DRAFT, status, now)
    return prescription.id


async def add_dose(
    services: Services, patient_id: uuid.UUID, doctor_id: uuid.UUID, due_in: timedelta
) -> uuid.UUID:
    """A scheduled dose of a new active prescription, due ``due_in`` from now."""
    prescription_id = await add_prescription(
        services, patient_id, doctor_id, PrescriptionStatus.ACTIVE
    )
    now = datetime.now(UTC)
    async with services.uow() as uow:
        prescription = await uow.prescriptions.get(prescription_id)
        assert prescription is not None
        dose = Dose(
            id=uuid.uuid4(),
            patient_id=patient_id,
            prescription_id=prescription_id,
            item_id=prescription.items[0].id,
            due_at=now + due_in,
            local_date=(now + due_in).date(),
            amount="1",
            status=DoseStatus.SCHEDULED,
            updated_at=now,
        )
        await uow.doses.add_many([dose])
    return dose.id
