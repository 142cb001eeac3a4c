"""Medicines, prescriptions, doses and batches through in-memory fakes: who may do what, what
each use case writes (and audits), and what a refusal leaves unchanged."""

from __future__ import annotations

import inspect
import uuid
from datetime import UTC, datetime

import pytest

from domain.doses import marking
from domain.doses import ports as dose_ports
from domain.doses.model import DoseEventKind, DoseStatus
from domain.errors import Conflict, Forbidden, InvalidTransition, NotFound, ValidationFailed
from domain.medicines import catalogue, interactions
from domain.medicines import ports as medicine_ports
from domain.medicines.model import (
    DosageForm,
    MedicineChanges,
    MedicineFields,
    Severity,
    new_medicine,
)
from domain.notifications.inapp import NoticeKind
from domain.policies import Access, policy_named
from domain.prescriptions import batch, lifecycle, reading, time_zone, writing
from domain.prescriptions import ports as prescription_ports
from domain.prescriptions.batch_run import BatchPayload, prescribe_batch
from domain.prescriptions.model import (
    ItemInput,
    PrescriptionSource,
    PrescriptionStatus,
    checked_items,
    new_prescription,
    prescriber_as_printed,
)
from tests.fakes import medication
from tests.fakes.medication import MedicationWorld

PAIRS = [
    (medicine_ports.MedicineRepository, medication.FakeMedicineRepository),
    (prescription_ports.PrescriptionRepository, medication.FakePrescriptionRepository),
    (prescription_ports.PrescriptionBatchRepository, medication.FakePrescriptionBatchRepository),
    (dose_ports.DoseRepository, medication.FakeDoseRepository),
    (dose_ports.TimeZones, medication.FakeTimeZones),
]


@pytest.mark.parametrize(("port", "fake"), PAIRS, ids=lambda x: getattr(x, "__name__", ""))
def test_each_fake_has_its_ports_methods(port, fake) -> None:
    for name, member in inspect.getmembers(port, inspect.isfunction):
        if name.startswith("_"):
            continue
        held = getattr(fake, name, None)
        assert held is not None, f"{fake.__name__} lacks {name}"
        assert list(inspect.signature(held).parameters) == list(
            inspect.signature(member).parameters
        ), name


@pytest.fixture
def world() -> MedicationWorld:
    # 06:00 UTC on a Monday: the morning's 08:00 dose is still to come
    world = MedicationWorld()
    world.clock._now = datetime(2031, 3, 10, 6, 0, tzinfo=UTC)
    return world


def medicine(world: MedicationWorld, name: str, *strengths: str):
    fields = MedicineFields(
        generic_name=name,
        category="test",
        dosage_form=DosageForm.TABLET,
        strengths=strengths or ("500 mg",),
    )
    return world.add_medicine(new_medicine(fields, world.clock.now()))


def item(medicine_id: uuid.UUID, frequency: str = "BID", days: int = 3, **more) -> ItemInput:
    return ItemInput(
        medicine_id=medicine_id,
        strength="500 mg",
        dose_amount="1",
        dose_form="tablet",
        frequency=frequency,
        start_date=datetime(2031, 3, 10).date(),
        duration_days=days,
        **more,
    )


@pytest.fixture
def people(world):
    patient, doctor, stranger = world.patient(), world.doctor(), world.doctor("Dr Other")
    world.connect(patient, doctor)
    return patient, doctor, stranger


def uid(principal) -> uuid.UUID:
    return uuid.UUID(principal.user_id)


async def test_write_activate_and_read(world, people) -> None:
    patient, doctor, _ = people
    drug = medicine(world, "paracetamol")
    draft = await world.run(
        writing.create_prescription, doctor, "prescription.create", uid(patient),
        [item(drug.id), item(drug.id, frequency="PRN")],
    )  # fmt: skip
    assert draft.prescription.status is PrescriptionStatus.DRAFT and draft.warnings == []

    active = await world.run(
        lifecycle.activate_prescription, doctor, "prescription.write", draft.prescription.id
    )
    assert active.prescription.status is PrescriptionStatus.ACTIVE
    doses = world.doses()
    assert len(doses) == 6 and {d.item_id for d in doses} == {draft.prescription.items[0].id}
    [email] = world.uow.database.table("emails").values()
    assert email.template == "prescription_shared" and email.data["doctorName"] == "Dr Dara"
    assert [n.kind for n in world.notices_of(patient)] == [NoticeKind.PRESCRIPTION_UPDATED]
    assert len(world.sender.sent) == 1  # the e-mail's job, after the commit

    read = await world.run(
        reading.get_prescription, patient, "prescription.read", draft.prescription.id
    )
    assert [i.id for i in read.items] == [i.id for i in active.prescription.items]
    assert world.audited() == ["prescription.create", "prescription.activate", "prescription.read"]


async def test_who_may_prescribe(world, people) -> None:
    patient, doctor, stranger = people
    drug = medicine(world, "paracetamol")
    with pytest.raises(NotFound):
        await world.run(
            writing.create_prescription,
            stranger,
            "prescription.create",
            uid(patient),
            [item(drug.id)],
        )
    with pytest.raises(Forbidden):
        await world.run(
            writing.create_prescription,
            patient,
            "prescription.create",
            uid(patient),
            [item(drug.id)],
        )
    draft = await world.run(
        writing.create_prescription, doctor, "prescription.create", uid(patient), [item(drug.id)]
    )
    world.connect(patient, stranger)  # another of the patient's doctors reads, never writes
    await world.run(reading.get_prescription, stranger, "prescription.read", draft.prescription.id)
    with pytest.raises(NotFound):
        await world.run(
            lifecycle.activate_prescription, stranger, "prescription.write", draft.prescription.id
        )
    assert world.doses() == []


async def test_a_bad_item_changes_nothing(world, people) -> None:
    patient, doctor, _ = people
    drug = medicine(world, "paracetamol")
    with pytest.raises(ValidationFailed) as refused:
        await world.run(
            writing.create_prescription, doctor, "prescription.create", uid(patient),
            [item(drug.id), item(drug.id, frequency="sometimes")],
        )  # fmt: skip
    assert refused.value.field == "items[1].frequency"
    assert world.uow.database.table("prescriptions") == {} and world.audited() == []


async def test_an_ended_draft_is_not_activated(world, people) -> None:
    patient, doctor, _ = people
    drug = medicine(world, "paracetamol")
    draft = await world.run(
        writing.create_prescription, doctor, "prescription.create", uid(patient),
        [item(drug.id, days=1)],
    )  # fmt: skip
    world.clock.advance(3 * 24 * 3600)
    with pytest.raises(InvalidTransition):
        await world.run(
            lifecycle.activate_prescription, doctor, "prescription.write", draft.prescription.id
        )
    assert await world.cases(lifecycle.expire_ended)() == 1
    stored = world.uow.database.table("prescriptions")[draft.prescription.id]
    assert stored.status is PrescriptionStatus.EXPIRED


async def test_interactions_are_reported(world, people) -> None:
    patient, doctor, _ = people
    warfarin, aspirin = medicine(world, "warfarin"), medicine(world, "aspirin")
    admin = world.admin()
    await world.run(
        interactions.record_interaction, admin, "medicine.write", warfarin.id, aspirin.id,
        Severity.MAJOR, "Bleeding.",
    )  # fmt: skip
    first = await world.run(
        writing.create_prescription,
        doctor,
        "prescription.create",
        uid(patient),
        [item(warfarin.id)],
    )
    await world.run(
        lifecycle.activate_prescription, doctor, "prescription.write", first.prescription.id
    )
    second = await world.run(
        writing.create_prescription, doctor, "prescription.create", uid(patient), [item(aspirin.id)]
    )
    [warning] = second.warnings
    assert (warning.medicine_id, warning.interacts_with) == (aspirin.id, warfarin.id)


async def test_marks_and_the_trail(world, people) -> None:
    patient, doctor, _ = people
    drug = medicine(world, "paracetamol")
    draft = await world.run(
        writing.create_prescription, doctor, "prescription.create", uid(patient), [item(drug.id)]
    )
    await world.run(
        lifecycle.activate_prescription, doctor, "prescription.write", draft.prescription.id
    )
    first, second = world.doses()[:2]
    world.clock.advance((first.due_at - world.clock.now()).total_seconds() + 2 * 3600)
    late = await world.run(marking.mark_taken, patient, "dose.mark", first.id, None)
    assert late.status is DoseStatus.TAKEN and late.late
    with pytest.raises(NotFound):  # another patient's dose is as good as missing
        await world.run(marking.mark_taken, world.patient("Other"), "dose.mark", second.id, None)
    skipped = await world.run(marking.mark_skipped, patient, "dose.mark", second.id, "Nausea")
    assert skipped.reason == "Nausea"
    await world.run(
        lifecycle.end_prescription, doctor, "prescription.write", draft.prescription.id, "cancel"
    )
    kinds = [kind for _, kind, _, _ in world.dose_events()]
    assert kinds[:2] == [DoseEventKind.TAKEN, DoseEventKind.SKIPPED]
    assert set(kinds[2:]) == {DoseEventKind.CANCELLED}
    with pytest.raises(InvalidTransition):
        await world.run(marking.mark_taken, patient, "dose.mark", world.doses()[-1].id, None)


async def test_a_new_time_zone_moves_the_doses_to_come(world, people) -> None:
    patient, doctor, _ = people
    drug = medicine(world, "paracetamol")
    draft = await world.run(
        writing.create_prescription, doctor, "prescription.create", uid(patient), [item(drug.id)]
    )
    await world.run(
        lifecycle.activate_prescription, doctor, "prescription.write", draft.prescription.id
    )
    assert {d.due_at.hour for d in world.doses()} == {8, 20}  # UTC: the zone until set
    await world.run(
        time_zone.set_time_zone, patient, "patient.time_zone", uid(patient), "Asia/Bangkok"
    )
    assert {d.due_at.hour for d in world.doses()} == {1, 13}  # 08:00 and 20:00 at UTC+7
    assert all(d.due_at >= world.clock.now() for d in world.doses())


async def test_a_dose_marked_early_is_not_made_again_in_the_new_zone(world, people) -> None:
    patient, doctor, _ = people
    drug = medicine(world, "paracetamol")
    draft = await world.run(
        writing.create_prescription, doctor, "prescription.create", uid(patient), [item(drug.id)]
    )
    await world.run(
        lifecycle.activate_prescription, doctor, "prescription.write", draft.prescription.id
    )
    coming = min(world.doses(), key=lambda d: d.due_at)
    world.clock.advance((coming.due_at - world.clock.now()).total_seconds() - 1800)
    await world.run(marking.mark_taken, patient, "dose.mark", coming.id, None)  # 30 min early
    await world.run(  # 03:30 in New York: the day's 08:00 and 20:00 are still to come
        time_zone.set_time_zone, patient, "patient.time_zone", uid(patient), "America/New_York"
    )
    that_day = [d for d in world.doses() if d.local_date == coming.local_date]
    statuses = sorted(d.status.value for d in that_day)
    assert statuses.count("taken") == 1
    assert len(that_day) == 2  # twice a day: the one taken early stands for the first


async def test_a_batch_prescribes_to_each_connected_patient(world, people) -> None:
    patient, doctor, _ = people
    stranger_patient = world.patient("Borey")
    drug = medicine(world, "amlodipine", "5 mg")
    submission = await world.run(
        batch.submit_batch, doctor, "prescription.batch",
        [uid(patient), uid(stranger_patient)],
        [ItemInput(medicine_id=drug.id, strength="5 mg", dose_amount="1", dose_form="tablet",
                   frequency="OD", start_date=world.clock.now().date(), duration_days=30)],
        True,
    )  # fmt: skip
    job = submission.job
    assert job.payload == {"batchId": job.payload["batchId"]}
    store = world.cases.run  # the handler, wired as the worker wires it
    result = await store(prescribe_batch, job, BatchPayload(uuid.UUID(job.payload["batchId"])))
    assert (result["created"], result["refused"]) == (1, 1)
    assert result["patients"][1]["reason"] == "not_connected"
    again = await store(prescribe_batch, job, BatchPayload(uuid.UUID(job.payload["batchId"])))
    assert again == result and len(world.uow.database.table("prescriptions")) == 1


async def test_the_catalogue_is_kept_by_admins(world) -> None:
    admin = world.admin()
    fields = MedicineFields(
        generic_name="Nifedipine",
        category="cv",
        dosage_form=DosageForm.TABLET,
        strengths=("10 mg",),
    )
    added = await world.run(catalogue.add_medicine, admin, "medicine.write", fields)
    with pytest.raises(Conflict):
        await world.run(catalogue.add_medicine, admin, "medicine.write", fields)
    with pytest.raises(Forbidden):
        await world.run(catalogue.add_medicine, world.doctor(), "medicine.write", fields)
    edited = await world.run(
        catalogue.edit_medicine, admin, "medicine.write", added.id, MedicineChanges(category="CV")
    )
    assert edited == added  # "CV" is "cv": nothing changed, nothing audited
    assert world.audited() == ["medicine.create"]
    reader = Access(principal=world.patient(), policy=policy_named("medicine.read"))
    found = await world.cases.run(catalogue.search_medicines, reader, "nif")
    assert [m.id for m in found] == [added.id]
    with pytest.raises(NotFound):
        await world.run(
            interactions.record_interaction, admin, "medicine.write", added.id, uuid.uuid4(),
            Severity.MINOR, "n",
        )  # fmt: skip


async def test_a_patients_own_scanned_prescription_is_theirs_to_write(world, people) -> None:
    """No doctor of ours wrote it: the patient activates it (doses made, no e-mail to
    herself); her connected doctor reads it but does not write it."""
    patient, doctor, _ = people
    drug = medicine(world, "paracetamol")
    now = world.clock.now()
    items = checked_items([item(drug.id)], {drug.id: drug}, now.date())
    own = new_prescription(
        uid(patient), None, items, now, source=PrescriptionSource.SCAN,
        printed_prescriber="Dr. Sok Dara",
    )  # fmt: skip
    world.uow.database.table("prescriptions")[own.id] = own

    with pytest.raises(NotFound):
        await world.run(lifecycle.activate_prescription, doctor, "prescription.write", own.id)
    active = await world.run(lifecycle.activate_prescription, patient, "prescription.write", own.id)

    assert active.prescription.status is PrescriptionStatus.ACTIVE
    assert active.prescription.doctor_id is None
    assert len(world.doses()) == 6
    assert world.uow.database.table("emails") == {}
    read = await world.run(reading.get_prescription, doctor, "prescription.read", own.id)
    assert read.source is PrescriptionSource.SCAN and read.prescriber_as_printed == "Dr. Sok Dara"


def test_only_a_scanned_prescription_goes_without_a_doctor() -> None:
    with pytest.raises(ValueError, match="no prescribing doctor"):
        new_prescription(uuid.uuid4(), None, (), datetime.now(UTC))
    assert prescriber_as_printed("  Dr.  Sok   Dara ") == "Dr. Sok Dara"
    assert prescriber_as_printed("   ") is None
    with pytest.raises(ValidationFailed):
        prescriber_as_printed("x" * 201)
