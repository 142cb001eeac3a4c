"""The medicines catalogue, prescriptions, batches, doses and time zones in memory, with the
stores' own rules (one entry per generic and form, one interaction per pair, one dose per
item and time, each dose change with its event), and a world that wires them."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import msgspec

from domain.accounts.model import AccountStatus, User
from domain.clock import Clock
from domain.connections.model import ConnectionStatus, new_request
from domain.doses.model import Dose, DoseEventKind, DoseStatus
from domain.errors import Conflict
from domain.identity import Principal
from domain.medicines.model import Interaction, Medicine, search_text
from domain.prescriptions.model import (
    Batch,
    BatchPatient,
    Item,
    Prescription,
    PrescriptionEvent,
    PrescriptionStatus,
)
from domain.settings import Settings
from tests.fakes.accounts import FakeUserRepository
from tests.fakes.database import FakeDatabase
from tests.fakes.emails import FakeAddresses, FakeEmailRepository, FakeRenderer
from tests.fakes.world import World

MARKABLE = {DoseStatus.SCHEDULED, DoseStatus.TAKEN, DoseStatus.SKIPPED, DoseStatus.MISSED}


class FakeMedicineRepository:
    def __init__(self, database: FakeDatabase, clock: Clock) -> None:
        self._rows: dict[uuid.UUID, Medicine] = database.table("medicines")
        self._pairs: dict[tuple[uuid.UUID, uuid.UUID], Interaction] = database.table("interactions")

    def _taken(self, medicine: Medicine) -> bool:
        return any(
            row.id != medicine.id
            and (row.generic_name, row.dosage_form) == (medicine.generic_name, medicine.dosage_form)
            for row in self._rows.values()
        )

    async def add(self, medicine: Medicine) -> None:
        if self._taken(medicine):
            raise Conflict("exists", code="medicine_exists")
        self._rows[medicine.id] = medicine

    async def get(self, medicine_id: uuid.UUID, *, lock: bool = False) -> Medicine | None:
        return self._rows.get(medicine_id)

    async def many(self, medicine_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, Medicine]:
        return {i: self._rows[i] for i in medicine_ids if i in self._rows}

    async def update(self, medicine: Medicine) -> None:
        if self._taken(medicine):
            raise Conflict("exists", code="medicine_exists")
        self._rows[medicine.id] = medicine

    async def listing(self, limit: int, offset: int) -> list[Medicine]:
        ordered = sorted(self._rows.values(), key=lambda m: (m.generic_name, m.dosage_form))
        return ordered[offset : offset + limit]

    async def search(self, words: tuple[str, ...], limit: int) -> list[Medicine]:
        """Substrings only: typo tolerance is PostgreSQL's (tests/integration/test_medicines)."""
        found = [m for m in self._rows.values() if all(w in search_text(m) for w in words)]
        found.sort(key=lambda m: (not m.generic_name.startswith(words[0]), m.generic_name))
        return found[:limit]

    async def record_interaction(self, interaction: Interaction) -> None:
        self._pairs[(interaction.first_id, interaction.second_id)] = interaction

    async def remove_interaction(self, first_id: uuid.UUID, second_id: uuid.UUID) -> bool:
        return self._pairs.pop((first_id, second_id), None) is not None

    async def interactions_of(self, medicine_id: uuid.UUID) -> list[Interaction]:
        return [i for pair, i in sorted(self._pairs.items()) if medicine_id in pair]

    async def interactions_between(
        self, these: Collection[uuid.UUID], those: Collection[uuid.UUID]
    ) -> list[Interaction]:
        return [
            i
            for (a, b), i in sorted(self._pairs.items())
            if (a in these and b in those) or (b in these and a in those)
        ]


class FakeTimeZones:
    def __init__(self, database: FakeDatabase, clock: Clock) -> None:
        self._zones: dict[uuid.UUID, str] = database.table("time_zones")

    async def of(self, patient_id: uuid.UUID) -> str:
        return self._zones.get(patient_id, "UTC")

    async def set(self, patient_id: uuid.UUID, time_zone: str) -> None:
        self._zones[patient_id] = time_zone


class FakePrescriptionRepository:
    def __init__(self, database: FakeDatabase, clock: Clock) -> None:
        self._rows: dict[uuid.UUID, Prescription] = database.table("prescriptions")
        self._events: dict[int, tuple[uuid.UUID, PrescriptionEvent]] = database.table(
            "prescription_events"
        )
        self._zones: dict[uuid.UUID, str] = database.table("time_zones")

    async def add(self, prescription: Prescription) -> None:
        self._rows[prescription.id] = prescription

    async def get(self, prescription_id: uuid.UUID, *, lock: bool = False) -> Prescription | None:
        return self._rows.get(prescription_id)

    async def replace_items(self, prescription: Prescription) -> None:
        self._rows[prescription.id] = prescription

    async def move(
        self,
        prescription_id: uuid.UUID,
        source: PrescriptionStatus,
        target: PrescriptionStatus,
        now: datetime,
    ) -> Prescription | None:
        found = self._rows.get(prescription_id)
        if found is None or found.status is not source:
            return None
        activated = now if target is PrescriptionStatus.ACTIVE else found.activated_at
        moved = msgspec.structs.replace(
            found, status=target, updated_at=now, activated_at=activated
        )
        self._rows[prescription_id] = moved
        return moved

    async def record_event(self, prescription_id: uuid.UUID, event: PrescriptionEvent) -> None:
        self._events[len(self._events)] = (prescription_id, event)

    async def history(self, prescription_id: uuid.UUID) -> list[PrescriptionEvent]:
        return [e for pid, e in self._events.values() if pid == prescription_id]

    async def page(
        self,
        patient_id: uuid.UUID,
        *,
        status: PrescriptionStatus | None,
        limit: int,
        cursor: str | None,
    ) -> tuple[list[Prescription], str | None]:
        mine = [
            p
            for p in self._rows.values()
            if p.patient_id == patient_id and (status is None or p.status is status)
        ]
        mine.sort(key=lambda p: (p.created_at, p.id), reverse=True)
        return mine[:limit], None

    async def active_items(
        self, patient_id: uuid.UUID, *, excluding: uuid.UUID | None = None
    ) -> list[Item]:
        return [
            item
            for p in self._rows.values()
            if p.patient_id == patient_id
            and p.status is PrescriptionStatus.ACTIVE
            and p.id != excluding
            for item in p.items
        ]

    async def ended(self, now: datetime, limit: int) -> list[Prescription]:
        def over(p: Prescription) -> bool:
            zone = ZoneInfo(self._zones.get(p.patient_id, "UTC"))
            end = datetime.combine(p.ends_on + timedelta(days=1), datetime.min.time(), zone)
            return end <= now

        live = {PrescriptionStatus.DRAFT, PrescriptionStatus.ACTIVE}
        return [p for p in self._rows.values() if p.status in live and over(p)][:limit]

    async def needing_doses(
        self, now: datetime, horizon_days: int, limit: int, after: uuid.UUID | None = None
    ) -> list[Prescription]:
        horizon = now.astimezone(UTC).date() + timedelta(days=horizon_days + 1)
        return sorted(
            (
                p
                for p in self._rows.values()
                if p.status is PrescriptionStatus.ACTIVE
                and (after is None or p.id.int > after.int)
                and any(
                    not i.as_needed
                    and (i.doses_until or i.starts_on - timedelta(days=1)) < min(i.ends_on, horizon)
                    for i in p.items
                )
            ),
            key=lambda p: p.id.int,
        )[:limit]

    async def set_doses_until(self, item_id: uuid.UUID, until: date) -> None:
        for p in list(self._rows.values()):
            items = tuple(
                msgspec.structs.replace(i, doses_until=until) if i.id == item_id else i
                for i in p.items
            )
            self._rows[p.id] = msgspec.structs.replace(p, items=items)

    async def of_patient(
        self, patient_id: uuid.UUID, statuses: Sequence[PrescriptionStatus]
    ) -> list[Prescription]:
        return [
            p for p in self._rows.values() if p.patient_id == patient_id and p.status in statuses
        ]


class FakePrescriptionBatchRepository:
    def __init__(self, database: FakeDatabase, clock: Clock) -> None:
        self._rows: dict[uuid.UUID, Batch] = database.table("prescription_batches")

    async def add(self, batch: Batch) -> None:
        self._rows[batch.id] = batch

    async def get(self, batch_id: uuid.UUID) -> Batch | None:
        return self._rows.get(batch_id)

    async def settle(self, batch_id: uuid.UUID, patient: BatchPatient) -> None:
        batch = self._rows[batch_id]
        patients = tuple(patient if p.position == patient.position else p for p in batch.patients)
        self._rows[batch_id] = msgspec.structs.replace(batch, patients=patients)

    async def outcomes(self, batch_id: uuid.UUID) -> list[BatchPatient]:
        return list(self._rows[batch_id].patients)


class FakeDoseRepository:
    def __init__(self, database: FakeDatabase, clock: Clock) -> None:
        self._rows: dict[uuid.UUID, Dose] = database.table("doses")
        self._events: dict[int, tuple[uuid.UUID, DoseEventKind, DoseStatus, DoseStatus]] = (
            database.table("dose_events")
        )
        self._reminded: dict[uuid.UUID, datetime] = database.table("reminded")

    def _move(self, dose: Dose, kind: DoseEventKind, **changes: object) -> Dose:
        moved = msgspec.structs.replace(dose, **changes)
        self._rows[dose.id] = moved
        self._events[len(self._events)] = (dose.id, kind, dose.status, moved.status)
        return moved

    async def add_many(self, doses: Sequence[Dose]) -> int:
        taken = {(d.item_id, d.due_at) for d in self._rows.values()}
        fresh = [d for d in doses if (d.item_id, d.due_at) not in taken]
        self._rows.update({d.id: d for d in fresh})
        return len(fresh)

    async def get(self, dose_id: uuid.UUID, *, lock: bool = False) -> Dose | None:
        return self._rows.get(dose_id)

    async def page(
        self,
        patient_id: uuid.UUID,
        *,
        since: datetime,
        until: datetime,
        prescription_id: uuid.UUID | None,
        limit: int,
    ) -> list[Dose]:
        found = [
            d
            for d in self._rows.values()
            if d.patient_id == patient_id
            and since <= d.due_at < until
            and (prescription_id is None or d.prescription_id == prescription_id)
        ]
        return sorted(found, key=lambda d: (d.due_at, d.id.int))[:limit]

    def _markable(self, dose_id: uuid.UUID) -> Dose:
        dose = self._rows.get(dose_id)
        if dose is None or dose.status not in MARKABLE:
            raise Conflict("the dose changed meanwhile; try again")
        return dose

    async def mark_taken(
        self, dose_id: uuid.UUID, kind: DoseEventKind, taken_at: datetime, late: bool, now: datetime
    ) -> Dose:
        return self._move(
            self._markable(dose_id), kind, status=DoseStatus.TAKEN, taken_at=taken_at,
            late=late, reason=None, updated_at=now,
        )  # fmt: skip

    async def mark_skipped(
        self, dose_id: uuid.UUID, kind: DoseEventKind, reason: str, now: datetime
    ) -> Dose:
        return self._move(
            self._markable(dose_id), kind, status=DoseStatus.SKIPPED, taken_at=None,
            late=False, reason=reason, updated_at=now,
        )  # fmt: skip

    async def mark_missed(self, due_before: datetime, now: datetime, limit: int) -> int:
        due = [
            d
            for d in self._rows.values()
            if d.status is DoseStatus.SCHEDULED and d.due_at < due_before
        ][:limit]
        for dose in due:
            self._move(dose, DoseEventKind.MISSED, status=DoseStatus.MISSED, updated_at=now)
        return len(due)

    async def cancel_scheduled(
        self, prescription_id: uuid.UUID, due_after: datetime, now: datetime
    ) -> int:
        due = [
            d
            for d in self._rows.values()
            if d.prescription_id == prescription_id
            and d.status is DoseStatus.SCHEDULED
            and d.due_at > due_after
        ]
        for dose in due:
            self._move(dose, DoseEventKind.CANCELLED, status=DoseStatus.CANCELLED, updated_at=now)
        return len(due)

    async def drop_scheduled(self, patient_id: uuid.UUID, due_after: datetime) -> int:
        gone = [
            d.id
            for d in self._rows.values()
            if d.patient_id == patient_id
            and d.status is DoseStatus.SCHEDULED
            and d.due_at > due_after
        ]
        for dose_id in gone:
            del self._rows[dose_id]
        return len(gone)

    async def settled_after(
        self, patient_id: uuid.UUID, due_after: datetime
    ) -> list[tuple[uuid.UUID, date]]:
        return [
            (d.item_id, d.local_date)
            for d in sorted(self._rows.values(), key=lambda d: d.due_at)
            if d.patient_id == patient_id
            and d.status not in (DoseStatus.SCHEDULED, DoseStatus.CANCELLED)
            and d.due_at > due_after
        ]

    async def any_scheduled(self, due_before: datetime, *, unreminded: bool = False) -> bool:
        return any(
            d.status is DoseStatus.SCHEDULED
            and d.due_at < due_before
            and not (unreminded and d.id in self._reminded)
            for d in self._rows.values()
        )

    async def to_remind(self, due_before: datetime, limit: int) -> list[Dose]:
        due = [
            d
            for d in self._rows.values()
            if d.status is DoseStatus.SCHEDULED and d.id not in self._reminded
            and d.due_at <= due_before
        ]  # fmt: skip
        return sorted(due, key=lambda d: d.due_at)[:limit]

    async def reminded(self, dose_ids: Sequence[uuid.UUID], at: datetime) -> None:
        self._reminded.update({dose_id: at for dose_id in dose_ids})


class MedicationWorld(World):
    """The unit-test world with the medication feature's stores, e-mail's fakes and the
    settings its use cases read."""

    def __init__(self, **more_dependencies: object) -> None:
        settings = Settings(
            database_url="postgresql://unused",
            redis_url="redis://unused",
            jwt_secret="unit-test-secret-" + "x" * 32,
            data_dir=Path("/nonexistent"),
            phi_keys={"k1": bytes(range(32))},
            phi_active_key_id="k1",
        )
        super().__init__(
            settings=settings,
            renderer=FakeRenderer(),
            addresses=FakeAddresses(),
            **more_dependencies,
        )
        self.settings = settings
        self.uow.repositories.update(
            {
                "medicines": FakeMedicineRepository,
                "prescriptions": FakePrescriptionRepository,
                "prescription_batches": FakePrescriptionBatchRepository,
                "doses": FakeDoseRepository,
                "time_zones": FakeTimeZones,
                "users": FakeUserRepository,
                "emails": FakeEmailRepository,
            }
        )

    def doctor(self, name: str = "Dr Dara") -> Principal:
        person = super().doctor(name)
        self._user(person, name)
        return person

    def patient(self, name: str = "Sokha") -> Principal:
        person = super().patient(name)
        self._user(person, name)
        return person

    def _user(self, person: Principal, name: str) -> None:
        user_id = uuid.UUID(person.user_id)
        now = self.clock.now()
        self.uow.database.table("users")[user_id] = User(
            id=user_id, email=f"{user_id.hex[:8]}@example.org", role=person.role,
            status=AccountStatus.ACTIVE, name=name, password_hash=None, created_at=now,
            updated_at=now,
        )  # fmt: skip

    def connect(self, patient: Principal, doctor: Principal) -> None:

        request = new_request(
            uuid.UUID(patient.user_id), uuid.UUID(doctor.user_id), self.clock.now()
        )
        active = msgspec.structs.replace(request, status=ConnectionStatus.ACTIVE)
        self.uow.database.table("connections")[active.id] = active

    def add_medicine(self, medicine: Medicine) -> Medicine:
        self.uow.database.table("medicines")[medicine.id] = medicine
        return medicine

    def doses(self) -> list[Dose]:
        return sorted(self.uow.database.table("doses").values(), key=lambda d: d.due_at)

    def dose_events(self) -> list[tuple[uuid.UUID, DoseEventKind, DoseStatus, DoseStatus]]:
        return list(self.uow.database.table("dose_events").values())
