"""A small world of people for unit tests: patients and doctors in the fake stores, and the
use cases wired to those stores as the API wires them to PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from domain.adapters.phi.cipher import PhiCipher
from domain.auditing import AuditContext
from domain.clock import ManualClock
from domain.identity import Principal, Role
from domain.patients.model import DoctorListing, PatientRecord
from domain.policies import Access, policy_named
from domain.wiring import Wired
from tests.fakes.audit import FakeAuditLog, audited
from tests.fakes.connections import FakeConnectionRepository
from tests.fakes.database import FakeUnitOfWorkFactory
from tests.fakes.jobs import FakeJobRepository, FakeJobStore, RecordingSender
from tests.fakes.notifications import FakeLiveChannel, FakeNoticeRepository
from tests.fakes.patients import FakeDoctorDirectory, FakePatientRepository

START = datetime(2031, 3, 9, 9, 0, tzinfo=UTC)


class World:
    """Fake stores, a clock the test moves, a real PHI cipher, and the wired use cases."""

    def __init__(self, **more_dependencies: object) -> None:
        self.clock = ManualClock(START)
        self.uow = FakeUnitOfWorkFactory(
            {
                "jobs": FakeJobRepository,
                "audit": FakeAuditLog,
                "connections": FakeConnectionRepository,
                "patients": FakePatientRepository,
                "doctors": FakeDoctorDirectory,
                "notices": FakeNoticeRepository,
            },
            clock=self.clock,
        )
        self.cipher = PhiCipher({"k1": bytes(range(32))}, "k1")
        self.sender = RecordingSender()
        self.live = FakeLiveChannel()
        self.cases = Wired(
            {
                "uow_factory": self.uow,
                "clock": self.clock,
                "cipher": self.cipher,
                "sender": self.sender,
                "live": self.live,
                "store": FakeJobStore(self.uow.database),
                **more_dependencies,
            }
        )

    def patient(self, name: str = "Sokha") -> Principal:
        person = Principal(user_id=str(uuid.uuid4()), role=Role.PATIENT)
        record = PatientRecord(
            id=uuid.UUID(person.user_id),
            name=name,
            email=f"{name.lower()}@example.org",
            phone=None,
            date_of_birth=None,
        )
        self.uow.database.table("patients")[record.id] = record
        self.uow.database.table("names")[record.id] = name
        return person

    def doctor(self, name: str = "Dr Dara") -> Principal:
        person = Principal(user_id=str(uuid.uuid4()), role=Role.DOCTOR)
        listing = DoctorListing(
            id=uuid.UUID(person.user_id),
            name=name,
            specialty="cardiology",
            consultation_fee_cents=None,
            currency=None,
        )
        self.uow.database.table("doctors")[listing.id] = listing
        self.uow.database.table("names")[listing.id] = name
        return person

    def admin(self) -> Principal:
        return Principal(user_id=str(uuid.uuid4()), role=Role.ADMIN)

    async def run(self, case, who: Principal, policy: str, *args: object) -> object:
        """``case(access, audit, *args)`` as ``who`` under the route policy ``policy``."""
        access = Access(principal=who, policy=policy_named(policy))
        audit = AuditContext(actor_id=who.user_id, actor_role=who.role.value)
        return await self.cases.run(case, access, audit, *args)

    def audited(self) -> list[str]:
        return [entry.action for entry in audited(self.uow.database)]

    def notices_of(self, who: Principal) -> list:
        """The notices a person has, oldest first."""
        mine = uuid.UUID(who.user_id)
        return sorted(
            (n for n in self.uow.database.table("notices").values() if n.user_id == mine),
            key=lambda n: n.seq,
        )
