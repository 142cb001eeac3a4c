"""A connected doctor writes a prescription (a draft) and edits it while it is one.

The answer reports the interactions of its medicines with each other and with those of
the patient's active prescriptions (``Prescribed.warnings``): prescribing is the doctor's
call, so an interaction is reported, not refused.
"""

from __future__ import annotations

import uuid

import msgspec

from domain.auditing import AuditContext
from domain.clock import Clock
from domain.doses.model import local_today
from domain.errors import Forbidden
from domain.medicines.interactions import warnings_for
from domain.medicines.model import InteractionWarning
from domain.patients.access import authorize_patient
from domain.policies import Access
from domain.prescriptions.access import as_prescriber, record_change
from domain.prescriptions.model import (
    Item,
    ItemInput,
    Prescription,
    check_editable,
    checked_items,
    new_prescription,
    with_items,
)
from domain.prescriptions.ports import UnitOfWork
from domain.transactions import UnitOfWorkFactory


class Prescribed(msgspec.Struct, frozen=True):
    prescription: Prescription
    warnings: list[InteractionWarning]


async def checked(
    uow: UnitOfWork, patient_id: uuid.UUID, items: list[ItemInput], clock: Clock
) -> tuple[Item, ...]:
    """The items checked against the catalogue and the patient's own calendar day."""
    medicines = await uow.medicines.many({item.medicine_id for item in items})
    today = local_today(clock.now(), await uow.time_zones.of(patient_id))
    return checked_items(items, medicines, today)


async def interaction_warnings(
    uow: UnitOfWork, prescription: Prescription
) -> list[InteractionWarning]:
    taking = await uow.prescriptions.active_items(
        prescription.patient_id, excluding=prescription.id
    )
    return await warnings_for(
        uow.medicines,
        [item.details.medicine_id for item in prescription.items],
        [item.details.medicine_id for item in taking],
    )


async def create_prescription(
    access: Access,
    audit: AuditContext,
    patient_id: uuid.UUID,
    items: list[ItemInput],
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
) -> Prescribed:
    async with uow_factory() as uow:
        return await create_in(uow, access, audit, patient_id, items, clock)


async def create_in(
    uow: UnitOfWork,
    access: Access,
    audit: AuditContext,
    patient_id: uuid.UUID,
    items: list[ItemInput],
    clock: Clock,
) -> Prescribed:
    """``create_prescription`` in the caller's transaction (a batch writes many, one each)."""
    await authorize_patient(uow, access, patient_id)
    doctor_id = access.user_uuid
    if doctor_id is None:  # an operator's token: no doctor to prescribe as
        raise Forbidden("this action needs a doctor's account")
    prescription = new_prescription(
        patient_id, doctor_id, await checked(uow, patient_id, items, clock), clock.now()
    )
    await uow.prescriptions.add(prescription)
    await record_change(uow, audit, prescription, "create", None, ("status", "items"), clock.now())
    return Prescribed(prescription, await interaction_warnings(uow, prescription))


async def edit_prescription(
    access: Access,
    audit: AuditContext,
    prescription_id: uuid.UUID,
    items: list[ItemInput],
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
) -> Prescribed:
    """The draft's items replaced by ``items``."""
    async with uow_factory() as uow:
        found = await uow.prescriptions.get(prescription_id, lock=True)
        prescription = await as_prescriber(uow, access, found)
        check_editable(prescription)
        edited = with_items(
            prescription, await checked(uow, prescription.patient_id, items, clock), clock.now()
        )
        await uow.prescriptions.replace_items(edited)
        await record_change(
            uow, audit, edited, "edit", prescription.status, ("items",), clock.now()
        )
        warnings = await interaction_warnings(uow, edited)
    return Prescribed(edited, warnings)
