"""A patient's data through fakes: who reads it, who changes what, and that it stays sealed."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from domain.connections import service as connections
from domain.errors import Forbidden, NotFound, ValidationFailed
from domain.patients import service
from domain.patients.model import ContactChanges
from domain.policies import Access, policy_named
from tests.fakes.world import World


@pytest.fixture
def world() -> World:
    return World()


def as_id(principal) -> uuid.UUID:
    return uuid.UUID(principal.user_id)


async def connect(world: World, patient, doctor) -> None:
    asked = await world.run(
        connections.request_connection, patient, "connection.request", as_id(doctor)
    )
    await world.run(connections.answer_connection, doctor, "connection.accept", asked.id, "accept")


async def test_the_patient_a_connected_doctor_and_an_admin_read_and_a_stranger_does_not(
    world,
) -> None:
    patient, doctor, stranger = world.patient(), world.doctor(), world.doctor("Dr Stranger")
    await connect(world, patient, doctor)
    for who in (patient, doctor, world.admin()):
        read = await world.run(service.read_patient, who, "patient.read", as_id(patient))
        assert read.name == "Sokha"
    with pytest.raises(NotFound):  # exactly like a patient who does not exist
        await world.run(service.read_patient, stranger, "patient.read", as_id(patient))
    with pytest.raises(NotFound):
        await world.run(service.read_patient, patient, "patient.read", uuid.uuid4())
    assert world.audited().count("patient.read") == 3


async def test_a_patient_changes_their_phone_which_is_kept_sealed(world) -> None:
    patient = world.patient()
    changed = await world.run(
        service.update_patient,
        patient,
        "patient.update",
        as_id(patient),
        ContactChanges(phone="+855 12 000 111"),
    )
    assert changed.phone == "+85512000111"
    stored = world.uow.database.table("patients")[as_id(patient)]
    assert b"85512000111" not in stored.phone.blob  # sealed, not the number
    assert world.audited() == ["patient.update"]


async def test_a_birth_date_in_the_future_is_refused_and_changes_nothing(world) -> None:
    patient = world.patient()
    with pytest.raises(ValidationFailed):
        await world.run(
            service.update_patient,
            patient,
            "patient.update",
            as_id(patient),
            ContactChanges(date_of_birth=date(2999, 1, 1)),
        )
    assert world.uow.database.table("patients")[as_id(patient)].date_of_birth is None
    assert world.audited() == []


async def test_only_a_connected_doctor_writes_clinical_notes(world) -> None:
    patient, doctor = world.patient(), world.doctor()
    with pytest.raises(NotFound):  # not connected yet
        await world.run(
            service.write_clinical_notes, doctor, "clinical_notes.write", as_id(patient), "BP ok"
        )
    await connect(world, patient, doctor)
    await world.run(
        service.write_clinical_notes, doctor, "clinical_notes.write", as_id(patient), "BP ok"
    )
    read = await world.run(
        service.read_clinical_notes, doctor, "clinical_notes.read", as_id(patient)
    )
    assert read.notes == "BP ok"
    with pytest.raises(Forbidden):  # the patient may not write their doctor's notes
        await world.run(
            service.write_clinical_notes, patient, "clinical_notes.write", as_id(patient), "x"
        )


async def test_the_directory_lists_doctors_by_name(world) -> None:
    world.doctor("dr zed"), world.doctor("Dr Anh")
    access = Access(principal=world.patient(), policy=policy_named("doctor.list"))
    listed = await world.cases.run(service.list_doctors, access, 10, 0)
    assert [doctor.name for doctor in listed] == ["Dr Anh", "dr zed"]
