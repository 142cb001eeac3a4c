"""THE authorization matrix: every /api/v1 endpoint, as every role, against every kind of target.

``ROWS`` is the one table. A row is an endpoint: its method, its path (with
``{id}`` where the target goes), the policy its route declares, and what each
caller gets. Columns are the caller's role (patient Alice, doctor Chantha,
admin Eang) times how the target stands to them:

- ``own``: the caller's own (their record, their job, a connection they are a side of);
- ``connected``: belonging to the caller's connected counterpart (Alice <-> Chantha);
- ``unrelated``: belonging to strangers (patient Borey, doctor Dararith).

A cell is the expected status: ``2xx``, or an exact 4xx (``403``, ``404``, ``409``);
``--`` marks a cell that cannot exist (an admin has no connected counterpart).
Each cell runs against a freshly reset world, so no cell sees another's writes.

Adding an endpoint is one line in ``ROWS``. Without a target (the row's
answer depends on the role only)::

    Row("GET", "/api/v1/me", "account.read", everyone("2xx")),
    Row("POST", "/api/v1/auth/login", "public.login", everyone("2xx"), body=credentials),
    Row("POST", "/api/v1/auth/totp/setup", "auth.totp_setup", by_role("403", "2xx", "2xx")),

With a target (a builder below makes one for the caller and relation)::

    Row("GET", "/api/v1/patients/{id}", "patient.read", grid(
        patient="2xx 404 404", doctor="404 2xx 404", admin="404 -- 2xx"), target=patient_record),

``body`` is ``f(world, caller, target_id)`` returning the JSON body (sync or async).
Besides the cells, every row is also called without a token (401 unless its
policy is public), and two walks over the app's routes fail when a route has
no known policy, or has no row here: a new endpoint cannot slip by unchecked.
"""

from __future__ import annotations

import inspect
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from litestar.routes import HTTPRoute

from api.app import create_app
from api.policy_guard import POLICY_OPT, is_automatic_options, policy_guard
from domain.adapters.bootstrap import Services, build_services
from domain.adapters.jobs.messaging import build_broker
from domain.alerts.model import Breach, Severity
from domain.connections.model import ConnectionStatus
from domain.identity import Role
from domain.jobs.model import JobError, JobStatus
from domain.notifications.inapp import NoticeKind
from domain.notifications.notices import notify
from domain.payments.model import PaymentStatus
from domain.policies import POLICIES
from domain.prescriptions.model import PrescriptionStatus
from domain.settings import Settings
from tests.conftest import make_settings
from tests.support.api import api_client, noop_job
from tests.support.availability import add_calendar, add_day_off
from tests.support.consultations import add_consultation
from tests.support.databases import create_database, database_url_for, drop_database
from tests.support.jobs import cancel_job
from tests.support.medicines import seeded_medicine
from tests.support.payments import add_payment
from tests.support.pdfs import png_image, valid_pdf
from tests.support.people import PATIENT_BOREY
from tests.support.prescriptions import add_dose, add_prescription
from tests.support.records import add_document, add_record, record_form
from tests.support.scans import add_read_scan, add_scan
from tests.support.users import Cast, Member, add_cast, connect, invite

OWN, CONNECTED, UNRELATED = "own", "connected", "unrelated"
RELATIONS = (OWN, CONNECTED, UNRELATED)
ROLES = (Role.PATIENT, Role.DOCTOR, Role.ADMIN)
NOT_APPLICABLE = "--"
API = "/api/v1"


# --- the world every cell starts from ----------------------------------------------------------


@dataclass(frozen=True)
class World:
    """Everyone in people.py with an account; Alice and Chantha actively connected."""

    services: Services
    cast: Cast

    def caller(self, role: Role) -> Member:
        return {Role.PATIENT: self.cast.alice, Role.DOCTOR: self.cast.chantha}.get(
            role, self.cast.eang
        )

    def counterpart(self, role: Role) -> Member | None:
        """The one the caller is connected with (an admin has none)."""
        return {Role.PATIENT: self.cast.chantha, Role.DOCTOR: self.cast.alice}.get(role)

    def stranger(self, role: Role) -> Member:
        """Connected to nobody: patient Borey, doctor Dararith."""
        return self.cast.borey if role is Role.PATIENT else self.cast.dararith

    def subject(self, role: Role, relation: str, stranger: Role = Role.PATIENT) -> Member | None:
        """Whose the target is: the caller's own, their counterpart's, or a stranger's."""
        if relation == OWN:
            return self.caller(role)
        if relation == CONNECTED:
            return self.counterpart(role)
        return self.stranger(stranger)

    def pair(self, role: Role, relation: str) -> tuple[Member, Member] | None:
        """(patient, doctor) of a connection that stands in ``relation`` to the caller."""
        caller, counterpart = self.caller(role), self.counterpart(role)
        borey, dararith = self.cast.borey, self.cast.dararith
        if relation == UNRELATED:
            return (borey, dararith)
        if counterpart is None:  # an admin is a side of no connection
            return None
        if relation == OWN:
            return (caller, dararith) if role is Role.PATIENT else (borey, caller)
        return (borey, counterpart) if role is Role.PATIENT else (counterpart, dararith)


# --- targets: what a request acts on, for a caller and a relation ------------------------------

Target = Callable[[World, Role, str], Awaitable[str | None]]


async def patient_record(world: World, role: Role, relation: str) -> str | None:
    member = world.subject(role, relation)
    return str(member.id) if member else None


async def doctor_account(world: World, role: Role, relation: str) -> str | None:
    member = world.subject(role, relation, stranger=Role.DOCTOR)
    return str(member.id) if member else None


def job(status: JobStatus) -> Target:
    async def build(world: World, role: Role, relation: str) -> str | None:
        owner = world.subject(role, relation)
        if owner is None:
            return None
        made = await noop_job(world.services, str(owner.id))
        store = world.services.store
        if status is JobStatus.CANCELLED:
            await cancel_job(world.services, made.id)
        elif status is JobStatus.FAILED:
            running = await store.claim(made.id)
            assert running is not None
            await store.fail(made.id, running.attempts, JobError("boom", "it broke"))
        return str(made.id)

    return build


def connection(status: ConnectionStatus) -> Target:
    async def build(world: World, role: Role, relation: str) -> str | None:
        pair = world.pair(role, relation)
        if pair is None:
            return None
        patient, doctor = pair
        return str(await connect(world.services, patient.id, doctor.id, status=status))

    return build


def patient_file(add: Callable[[Services, Any], Awaitable[str]]) -> Target:
    """A record or document of the patient who stands in ``relation`` to the caller."""

    async def build(world: World, role: Role, relation: str) -> str | None:
        owner = world.subject(role, relation)
        if owner is None or owner.role is not Role.PATIENT:
            return None
        return await add(world.services, owner.id)

    return build


async def notice(world: World, role: Role, relation: str) -> str | None:
    """An in-app notice of the member who stands in ``relation`` to the caller."""
    owner = world.subject(role, relation)
    if owner is None:
        return None
    async with world.services.uow() as uow:
        made = await notify(uow, owner.id, NoticeKind.HEALTH_ALERT, {"alertId": "a-1"})
    return str(made.id)


async def alert(world: World, role: Role, relation: str) -> str | None:
    """An open health alert of the patient who stands in ``relation`` to the caller."""
    owner = world.subject(role, relation)
    if owner is None or owner.role is not Role.PATIENT:
        return None
    breach = Breach(
        patient_id=owner.id,
        rule="spo2.low",
        severity=Severity.HIGH,
        summary_code="hypoxaemia",
        at=datetime.now(UTC),
    )
    async with world.services.uow() as uow:
        return str((await uow.alerts.upsert(breach)).alert.id)


async def medicine(world: World, role: Role, relation: str) -> str | None:
    """A seeded catalogue entry: the catalogue names no patient, so it is everyone's alike."""
    return await seeded_medicine(world.services, "paracetamol")


async def other_medicine(world: World, caller: Member, target: str | None) -> dict[str, Any]:
    other = await seeded_medicine(world.services, "ibuprofen")
    return {"otherId": other, "severity": "minor", "note": "Checked."}


def new_medicine(world: World, caller: Member, target: str | None) -> dict[str, Any]:
    return {"genericName": "nifedipine", "category": "cardiovascular",
            "dosageForm": "modified_release_tablet", "strengths": ["20 mg"]}  # fmt: skip


def prescription(status: PrescriptionStatus) -> Target:
    """A prescription in ``status``: a patient's own (Alice's, by Chantha); for a doctor, one
    they wrote (Alice's) or one their patient has from another doctor (Alice's, by Dararith);
    unrelated: Borey's, by Dararith."""

    async def build(world: World, role: Role, relation: str) -> str | None:
        cast = world.cast
        pairs = {
            (Role.PATIENT, OWN): (cast.alice, cast.chantha),
            (Role.DOCTOR, OWN): (cast.alice, cast.chantha),
            (Role.DOCTOR, CONNECTED): (cast.alice, cast.dararith),
        }
        pair = pairs.get((role, relation))
        if relation == UNRELATED:
            pair = (cast.borey, cast.dararith)
        if pair is None:
            return None
        return str(await add_prescription(world.services, pair[0].id, pair[1].id, status))

    return build


def owned_prescription(status: PrescriptionStatus) -> Target:
    """A prescription in ``status`` that the caller owns (``own``: a patient's own record of a
    scanned paper prescription, Alice's; a doctor's own, Alice's by Chantha), or their
    counterpart owns (Alice's by Chantha for Alice; Alice's own record for Chantha), or a
    stranger owns (Borey's own record for a patient, Borey's by Dararith otherwise)."""

    async def build(world: World, role: Role, relation: str) -> str | None:
        cast = world.cast
        pairs = {
            (Role.PATIENT, OWN): (cast.alice, None),
            (Role.PATIENT, CONNECTED): (cast.alice, cast.chantha),
            (Role.PATIENT, UNRELATED): (cast.borey, None),
            (Role.DOCTOR, OWN): (cast.alice, cast.chantha),
            (Role.DOCTOR, CONNECTED): (cast.alice, None),
            (Role.DOCTOR, UNRELATED): (cast.borey, cast.dararith),
            (Role.ADMIN, UNRELATED): (cast.borey, cast.dararith),
        }
        pair = pairs.get((role, relation))
        if pair is None:
            return None
        patient, doctor = pair
        return str(
            await add_prescription(
                world.services, patient.id, doctor.id if doctor else None, status
            )
        )

    return build


async def webhook_provider(world: World, role: Role, relation: str) -> str | None:
    """The provider in a webhook's path: the same for everyone (the signature is the check)."""
    return "bakong"


async def webhook_delivery(world: World, role: Role, relation: str) -> str | None:
    """A stored delivery: operators' business, whoever the caller stands to."""
    async with world.services.uow() as uow:
        delivery, _ = await uow.deliveries.add(
            "bakong", f"msg_{role.value}_{relation}", "payment.completed", b"{}", datetime.now(UTC)
        )
    return str(delivery.id)


def payment(status: PaymentStatus) -> Target:
    """A payment of the member who stands in ``relation`` to the caller."""

    async def build(world: World, role: Role, relation: str) -> str | None:
        owner = world.subject(role, relation)
        if owner is None:
            return None
        return str((await add_payment(world.services, owner.id, status)).id)

    return build


async def dose(world: World, role: Role, relation: str) -> str | None:
    """A dose due ten minutes ago of the patient who stands in ``relation`` to the caller."""
    owner = world.subject(role, relation)
    if owner is None or owner.role is not Role.PATIENT:
        return None
    return str(
        await add_dose(world.services, owner.id, world.cast.chantha.id, -timedelta(minutes=10))
    )


async def prescription_items(world: World, caller: Member, target: str | None) -> list[dict]:
    paracetamol = await seeded_medicine(world.services, "paracetamol")
    return [{"medicineId": paracetamol, "strength": "500 mg", "doseAmount": "1",
             "doseForm": "tablet", "frequency": "BID", "startDate": date.today().isoformat(),
             "durationDays": 5}]  # fmt: skip


async def new_prescription_body(world: World, caller: Member, target: str | None) -> dict:
    return {"patientId": target, "items": await prescription_items(world, caller, target)}


async def batch_body(world: World, caller: Member, target: str | None) -> dict:
    items = await prescription_items(world, caller, target)
    return {"patientIds": [str(world.cast.alice.id)], "items": items}


async def edited_items(world: World, caller: Member, target: str | None) -> dict:
    return {"items": await prescription_items(world, caller, target)}


async def day_off(world: World, role: Role, relation: str) -> str | None:
    """A day off in the calendar of the member who stands in ``relation`` to the caller."""
    owner = world.subject(role, relation, stranger=Role.DOCTOR)
    if owner is None:
        return None
    return str(await add_day_off(world.services, owner.id, date(2030, 1, 7)))


async def with_calendar(world: World, caller: Member, target: str | None) -> dict[str, Any]:
    await add_calendar(world.services, caller.id)
    return {"day": "2030-01-07", "kind": "off"}


async def calendar_of(world: World) -> str:
    """A doctor's calendar: anyone signed in may read it, so it stands alike to all."""
    await add_calendar(world.services, world.cast.dararith.id)
    return str(world.cast.dararith.id)


async def specialty(world: World) -> str:
    await add_calendar(world.services, world.cast.dararith.id)
    return "endocrinology"


async def consultation_of(world: World, role: Role, relation: str) -> str | None:
    """A confirmed consultation of a (patient, doctor) pair in ``relation`` to the caller."""
    pair = world.pair(role, relation)
    if pair is None:
        return None
    patient, doctor = pair
    await add_calendar(world.services, doctor.id)  # a reschedule needs a time it offers
    return str((await add_consultation(world.services, patient.id, doctor.id)).id)


async def consultation_soon(world: World, role: Role, relation: str) -> str | None:
    """A confirmed consultation due in five minutes (a doctor may start it)."""
    pair = world.pair(role, relation)
    if pair is None:
        return None
    patient, doctor = pair
    await add_calendar(world.services, doctor.id)
    soon = await add_consultation(
        world.services, patient.id, doctor.id, starts_in=timedelta(minutes=5)
    )
    return str(soon.id)


def another_time() -> dict[str, Any]:
    """Four days on at 09:00 UTC: a time of every calendar ``add_calendar`` keeps."""
    day = datetime.now(UTC).date() + timedelta(days=4)
    starts = datetime(day.year, day.month, day.day, 9, tzinfo=UTC)
    return {"startsAt": starts.isoformat(), "endsAt": (starts + timedelta(minutes=30)).isoformat()}


async def free_time(world: World, caller: Member, target: str | None) -> dict[str, Any]:
    """Tomorrow at 10:00 UTC with Dararith, whose calendar offers it."""
    await add_calendar(world.services, world.cast.dararith.id)
    day = datetime.now(UTC).date() + timedelta(days=1)
    starts = datetime(day.year, day.month, day.day, 10, tzinfo=UTC)
    return {
        "doctorId": str(world.cast.dararith.id),
        "startsAt": starts.isoformat(),
        "endsAt": (starts + timedelta(minutes=30)).isoformat(),
    }


async def plan_code(world: World, role: Role, relation: str) -> str | None:
    """A plan's code: plans belong to nobody."""
    return "basic-monthly"


record = patient_file(add_record)
document = patient_file(lambda services, patient: add_document(services, patient, valid_pdf()))
scan = patient_file(lambda services, patient: add_scan(services, patient, png_image()))
read_scan = patient_file(lambda services, patient: add_read_scan(services, patient, png_image()))


# --- bodies ------------------------------------------------------------------------------------

Body = Callable[[World, Member, str | None], Any]


def email(world: World, caller: Member, _: str | None) -> dict[str, Any]:
    return {"to": caller.person.email, "template": "welcome", "data": {"name": caller.person.name}}


def recently() -> str:
    return (datetime.now(UTC) - timedelta(minutes=1)).isoformat()


def own_password(world: World, caller: Member, _: str | None) -> dict[str, Any]:
    return {"password": caller.person.password}


def credentials(world: World, caller: Member, _: str | None) -> dict[str, Any]:
    return {"email": caller.person.email, "password": caller.person.password}


def own_address(world: World, caller: Member, _: str | None) -> dict[str, Any]:
    return {"email": caller.person.email}


def signup(world: World, caller: Member, _: str | None) -> dict[str, Any]:
    newcomer = PATIENT_BOREY
    return {
        "role": "patient",
        "email": "newcomer." + newcomer.email,
        "password": newcomer.password,
        "name": newcomer.name,
    }


async def invitation(world: World, caller: Member, _: str | None) -> dict[str, Any]:
    return {"token": await invite(world.services, world.cast.dararith.id)}


class Form(NamedTuple):
    """A multipart body: text fields and one file."""

    fields: dict[str, str]
    file: tuple[str, bytes, str]


def record_upload(world: World, caller: Member, target: str | None) -> Form:
    blob = ("record.bin", b"client-encrypted", "application/octet-stream")
    return Form(record_form(target or ""), blob)


def document_upload(world: World, caller: Member, target: str | None) -> Form:
    return Form({"patientId": target or ""}, ("scan.pdf", valid_pdf(), "application/pdf"))


def scan_confirmation(world: World, caller: Member, target: str | None) -> dict[str, Any]:
    """Items naming no catalogue entry: a permitted caller gets as far as the check (422)."""
    item = {
        "medicineId": "00000000-0000-4000-8000-000000000000",
        "strength": "500 mg",
        "doseAmount": "1",
        "doseForm": "tablet",
        "frequency": "BID",
        "startDate": "2026-12-06",
        "durationDays": 5,
    }
    return {"items": [item]}


def scan_upload(world: World, caller: Member, target: str | None) -> Form:
    return Form({"patientId": target or ""}, ("rx.png", png_image(), "image/png"))


# --- expectations ------------------------------------------------------------------------------

Cells = dict[tuple[Role, str | None], str]


def by_role(patient: str, doctor: str, admin: str) -> Cells:
    """An endpoint without a target: the answer depends on the role alone."""
    return {(Role.PATIENT, None): patient, (Role.DOCTOR, None): doctor, (Role.ADMIN, None): admin}


def everyone(status: str) -> Cells:
    return by_role(status, status, status)


def grid(*, patient: str, doctor: str, admin: str) -> Cells:
    """Per role, the answers for an own, a connected and an unrelated target, in that order."""
    cells: Cells = {}
    for role, line in ((Role.PATIENT, patient), (Role.DOCTOR, doctor), (Role.ADMIN, admin)):
        statuses = line.split()
        assert len(statuses) == len(RELATIONS), f"{role}: {line!r} needs three columns"
        for relation, status in zip(RELATIONS, statuses, strict=True):
            if status != NOT_APPLICABLE:
                cells[(role, relation)] = status
    return cells


def alike(patient: str, doctor: str, admin: str) -> Cells:
    """A target that stands alike to everyone (a catalogue entry): per role, one answer."""
    return grid(patient=f"{patient} {patient} {patient}", doctor=f"{doctor} {doctor} {doctor}",
                admin=f"{admin} -- {admin}")  # fmt: skip


class Row(NamedTuple):
    method: str
    path: str
    policy: str
    cells: Cells
    target: Target | None = None
    body: Body | None = None

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"


OWNER_OR_ADMIN = grid(patient="2xx 404 404", doctor="2xx 404 404", admin="2xx -- 2xx")
ADMIN_ONLY = grid(patient="403 403 403", doctor="403 403 403", admin="2xx -- 2xx")
DOCTOR_ANSWERS = grid(patient="403 403 403", doctor="2xx 404 404", admin="-- -- 403")
# a patient's files: the patient or a connected doctor; only patients have files ("--")
UPLOAD_FOR_PATIENT = grid(patient="2xx 404 404", doctor="404 2xx 404", admin="403 -- 403")
FILE_READ = grid(patient="2xx -- 404", doctor="-- 2xx 404", admin="-- -- 403")
DOCTOR_ACTS_ON_ALERT = grid(patient="403 -- 403", doctor="-- 2xx 404", admin="-- -- 403")
FILE_READ_WITH_ADMIN = grid(patient="2xx -- 404", doctor="-- 2xx 404", admin="-- -- 2xx")

# a prescription: read by its patient and their connected doctors; written by its prescriber
PRESCRIPTION_READ = grid(patient="2xx -- 404", doctor="2xx 2xx 404", admin="-- -- 403")
# written by its owner: the prescribing doctor, or the patient for their own scanned paper
PRESCRIBER = grid(patient="2xx 404 404", doctor="2xx 404 404", admin="-- -- 403")
DOSE_MARK = grid(patient="2xx -- 404", doctor="-- 403 403", admin="-- -- 403")

ROWS: tuple[Row, ...] = (
    # jobs
    Row("GET", f"{API}/jobs", "job.list", everyone("2xx")),
    Row("GET", f"{API}/jobs/{{id}}", "job.read", OWNER_OR_ADMIN, target=job(JobStatus.QUEUED)),
    Row("GET", f"{API}/jobs/{{id}}/events", "job.events", OWNER_OR_ADMIN,
        target=job(JobStatus.CANCELLED)),
    Row("POST", f"{API}/jobs/{{id}}/cancel", "job.cancel", OWNER_OR_ADMIN,
        target=job(JobStatus.QUEUED)),
    Row("POST", f"{API}/jobs/{{id}}/retry", "job.retry", ADMIN_ONLY, target=job(JobStatus.FAILED)),
    # notifications: in-app notices are their user's alone
    Row("GET", f"{API}/notifications", "notice.list", everyone("2xx")),
    Row("GET", f"{API}/notifications/unread-count", "notice.list", everyone("2xx")),
    Row("POST", f"{API}/notifications/read-all", "notice.list", everyone("2xx")),
    Row("GET", f"{API}/notifications/preferences", "notice.preferences", everyone("2xx")),
    Row("PUT", f"{API}/notifications/preferences", "notice.preferences", everyone("2xx"),
        body=lambda world, caller, target: {"preferences": [{"kind": "health.alert",
                                                               "email": True}]}),
    Row("POST", f"{API}/notifications/{{id}}/read", "notice.read",
        grid(patient="2xx 404 404", doctor="2xx 404 404", admin="2xx -- 404"), target=notice),
    Row("POST", f"{API}/notifications/email", "notification.send_email",
        by_role("403", "403", "2xx"), body=email),
    # connections
    Row("GET", f"{API}/connections", "connection.list", everyone("2xx")),
    Row("POST", f"{API}/connections", "connection.request",
        grid(patient="404 409 2xx", doctor="403 403 403", admin="403 -- 403"),
        target=doctor_account, body=lambda world, caller, target: {"doctorId": target}),
    Row("POST", f"{API}/connections/invitations", "connection.invite",
        by_role("403", "2xx", "403")),
    Row("POST", f"{API}/connections/invitations/accept", "connection.accept_invitation",
        by_role("2xx", "403", "403"), body=invitation),
    Row("POST", f"{API}/connections/{{id}}/accept", "connection.accept", DOCTOR_ANSWERS,
        target=connection(ConnectionStatus.PENDING)),
    Row("POST", f"{API}/connections/{{id}}/reject", "connection.reject", DOCTOR_ANSWERS,
        target=connection(ConnectionStatus.PENDING)),
    Row("POST", f"{API}/connections/{{id}}/revoke", "connection.revoke",
        grid(patient="2xx 404 404", doctor="2xx 404 404", admin="-- -- 403"),
        target=connection(ConnectionStatus.ACTIVE)),
    # adherence: like a patient's data; the dashboard is a doctor's own
    Row("GET", f"{API}/patients/{{id}}/adherence", "adherence.read",
        grid(patient="2xx 404 404", doctor="404 2xx 404", admin="404 -- 2xx"),
        target=patient_record),
    Row("GET", f"{API}/dashboard/patients", "dashboard.read", by_role("403", "2xx", "403")),
    # patient data
    Row("GET", f"{API}/patients/{{id}}", "patient.read",
        grid(patient="2xx 404 404", doctor="404 2xx 404", admin="404 -- 2xx"),
        target=patient_record),
    Row("PATCH", f"{API}/patients/{{id}}", "patient.update",
        grid(patient="2xx 404 404", doctor="403 403 403", admin="403 -- 403"),
        target=patient_record, body=lambda world, caller, target: {"phone": "+85512000111"}),
    Row("GET", f"{API}/patients/{{id}}/clinical-notes", "clinical_notes.read",
        grid(patient="2xx 404 404", doctor="404 2xx 404", admin="403 -- 403"),
        target=patient_record),
    Row("PUT", f"{API}/patients/{{id}}/clinical-notes", "clinical_notes.write",
        grid(patient="403 403 403", doctor="404 2xx 404", admin="403 -- 403"),
        target=patient_record, body=lambda world, caller, target: {"notes": "Reviewed."}),
    Row("GET", f"{API}/doctors", "doctor.list", everyone("2xx")),
    # prescriptions and doses
    Row("POST", f"{API}/prescriptions", "prescription.create",
        grid(patient="403 403 403", doctor="404 2xx 404", admin="403 -- 403"),
        target=patient_record, body=new_prescription_body),
    Row("GET", f"{API}/prescriptions", "prescription.list", by_role("2xx", "422", "403")),
    Row("POST", f"{API}/prescriptions/batch", "prescription.batch", by_role("403", "2xx", "403"),
        body=batch_body),
    Row("GET", f"{API}/prescriptions/{{id}}", "prescription.read", PRESCRIPTION_READ,
        target=prescription(PrescriptionStatus.DRAFT)),
    Row("GET", f"{API}/prescriptions/{{id}}/history", "prescription.read", PRESCRIPTION_READ,
        target=prescription(PrescriptionStatus.DRAFT)),
    Row("PATCH", f"{API}/prescriptions/{{id}}", "prescription.write", PRESCRIBER,
        target=owned_prescription(PrescriptionStatus.DRAFT), body=edited_items),
    Row("POST", f"{API}/prescriptions/{{id}}/activate", "prescription.write", PRESCRIBER,
        target=owned_prescription(PrescriptionStatus.DRAFT)),
    Row("POST", f"{API}/prescriptions/{{id}}/complete", "prescription.write", PRESCRIBER,
        target=owned_prescription(PrescriptionStatus.ACTIVE)),
    Row("POST", f"{API}/prescriptions/{{id}}/cancel", "prescription.write", PRESCRIBER,
        target=owned_prescription(PrescriptionStatus.DRAFT)),
    Row("GET", f"{API}/patients/{{id}}/doses", "dose.list",
        grid(patient="2xx 404 404", doctor="404 2xx 404", admin="403 -- 403"),
        target=patient_record),
    Row("POST", f"{API}/doses/{{id}}/taken", "dose.mark", DOSE_MARK, target=dose),
    Row("POST", f"{API}/doses/{{id}}/skipped", "dose.mark", DOSE_MARK, target=dose,
        body=lambda world, caller, target: {"reason": "Felt dizzy."}),
    Row("GET", f"{API}/patients/{{id}}/time-zone", "patient.read",
        grid(patient="2xx 404 404", doctor="404 2xx 404", admin="404 -- 2xx"),
        target=patient_record),
    Row("PUT", f"{API}/patients/{{id}}/time-zone", "patient.time_zone",
        grid(patient="2xx 404 404", doctor="403 403 403", admin="403 -- 403"),
        target=patient_record, body=lambda world, caller, target: {"timeZone": "Asia/Phnom_Penh"}),
    # the medicines catalogue
    Row("GET", f"{API}/medicines", "medicine.read", everyone("2xx")),
    Row("GET", f"{API}/medicines/{{id}}", "medicine.read", alike("2xx", "2xx", "2xx"),
        target=medicine),
    Row("GET", f"{API}/medicines/{{id}}/interactions", "medicine.read",
        alike("2xx", "2xx", "2xx"), target=medicine),
    Row("POST", f"{API}/medicines", "medicine.write", by_role("403", "403", "2xx"),
        body=new_medicine),
    Row("PATCH", f"{API}/medicines/{{id}}", "medicine.write", alike("403", "403", "2xx"),
        target=medicine, body=lambda world, caller, target: {"strengths": ["500 mg"]}),
    Row("PUT", f"{API}/medicines/{{id}}/interactions", "medicine.write",
        alike("403", "403", "2xx"), target=medicine, body=other_medicine),
    # (one target fills both ids: a medicine does not interact with itself, 422)
    Row("DELETE", f"{API}/medicines/{{id}}/interactions/{{id}}", "medicine.write",
        alike("403", "403", "422"), target=medicine),
    # medical records and documents (admins: records' metadata, never content)
    Row("POST", f"{API}/records", "record.create", UPLOAD_FOR_PATIENT, target=patient_record,
        body=record_upload),
    Row("GET", f"{API}/records", "record.list", by_role("2xx", "422", "2xx")),
    Row("GET", f"{API}/records/{{id}}", "record.read", FILE_READ_WITH_ADMIN, target=record),
    Row("GET", f"{API}/records/{{id}}/verify", "record.read", FILE_READ_WITH_ADMIN,
        target=record),
    Row("GET", f"{API}/records/{{id}}/proof", "record.read",
        grid(patient="409 -- 404", doctor="-- 409 404", admin="-- -- 409"), target=record),
    Row("GET", f"{API}/records/{{id}}/content", "record.content", FILE_READ, target=record),
    Row("DELETE", f"{API}/records/{{id}}", "record.delete",
        grid(patient="2xx -- 404", doctor="-- 403 403", admin="-- -- 2xx"), target=record),
    Row("POST", f"{API}/documents", "document.create", UPLOAD_FOR_PATIENT,
        target=patient_record, body=document_upload),
    Row("GET", f"{API}/documents", "document.list", by_role("2xx", "422", "403")),
    Row("GET", f"{API}/documents/{{id}}/content", "document.read", FILE_READ, target=document),
    Row("DELETE", f"{API}/documents/{{id}}", "document.delete",
        grid(patient="2xx -- 404", doctor="-- 403 403", admin="-- -- 403"), target=document),
    Row("POST", f"{API}/scans", "scan.create", UPLOAD_FOR_PATIENT,
        target=patient_record, body=scan_upload),
    Row("GET", f"{API}/scans", "scan.list", by_role("2xx", "422", "403")),
    Row("GET", f"{API}/scans/allowance", "scan.list", by_role("2xx", "422", "403")),
    Row("GET", f"{API}/scans/{{id}}/content", "scan.read", FILE_READ, target=scan),
    Row("GET", f"{API}/scans/{{id}}/reading", "scan.read", FILE_READ, target=read_scan),
    Row("POST", f"{API}/scans/{{id}}/confirm", "scan.confirm",
        grid(patient="422 -- 404", doctor="-- 422 404", admin="-- -- 403"),
        target=read_scan, body=scan_confirmation),
    Row("DELETE", f"{API}/scans/{{id}}", "scan.delete",
        grid(patient="2xx -- 404", doctor="-- 403 403", admin="-- -- 403"), target=scan),
    # vital signs: the patient and connected doctors
    Row("POST", f"{API}/patients/{{id}}/vitals", "vital.record", UPLOAD_FOR_PATIENT,
        target=patient_record, body=lambda world, caller, target: {
            "reading": {"type": "heart_rate", "bpm": 72}, "measuredAt": recently()}),
    Row("GET", f"{API}/patients/{{id}}/vitals", "vital.list", UPLOAD_FOR_PATIENT,
        target=patient_record),
    Row("GET", f"{API}/patients/{{id}}/vitals/latest", "vital.list", UPLOAD_FOR_PATIENT,
        target=patient_record),
    # health alerts: the patient and connected doctors; doctors acknowledge, resolve, set rules
    Row("GET", f"{API}/alerts", "alert.inbox", by_role("2xx", "2xx", "403")),
    Row("GET", f"{API}/alerts/{{id}}", "alert.read", FILE_READ, target=alert),
    Row("POST", f"{API}/alerts/{{id}}/read", "alert.read", FILE_READ, target=alert),
    Row("POST", f"{API}/alerts/{{id}}/acknowledge", "alert.acknowledge", DOCTOR_ACTS_ON_ALERT,
        target=alert),
    Row("POST", f"{API}/alerts/{{id}}/resolve", "alert.resolve", DOCTOR_ACTS_ON_ALERT,
        target=alert),
    Row("GET", f"{API}/patients/{{id}}/alerts", "alert.list", UPLOAD_FOR_PATIENT,
        target=patient_record),
    Row("GET", f"{API}/patients/{{id}}/alert-rules", "alert_rules.read", UPLOAD_FOR_PATIENT,
        target=patient_record),
    Row("PUT", f"{API}/patients/{{id}}/alert-rules", "alert_rules.write",
        grid(patient="403 403 403", doctor="404 2xx 404", admin="403 -- 403"),
        target=patient_record, body=lambda world, caller, target: {
            "rule": "spo2.low", "bands": [{"severity": "HIGH", "limits": {"percent": 90}}]}),
    # accounts: sign-up, sign-in and one's own account (public rows answer the same to anyone)
    Row("POST", f"{API}/auth/signup", "public.signup", everyone("2xx"), body=signup),
    Row("POST", f"{API}/auth/verify-email", "public.verify_email", everyone("401"),
        body=lambda world, caller, target: {"token": "not-a-real-token"}),
    Row("POST", f"{API}/auth/login", "public.login", everyone("2xx"), body=credentials),
    Row("POST", f"{API}/auth/mfa", "public.mfa", everyone("401"),
        body=lambda world, caller, target: {"mfaToken": "not-a-real-token", "code": "123456"}),
    Row("POST", f"{API}/auth/refresh", "public.refresh", everyone("401"),
        body=lambda world, caller, target: {"refreshToken": "not-a-real-token"}),
    Row("POST", f"{API}/auth/logout", "auth.logout", everyone("2xx"),
        body=lambda world, caller, target: {"everywhere": True}),
    Row("POST", f"{API}/auth/browser/refresh", "public.refresh", everyone("401")),
    # without the X-Refresh-Cookie header a cookie call is refused as cross-site
    Row("POST", f"{API}/auth/browser/logout", "auth.logout", everyone("403")),
    Row("POST", f"{API}/auth/password-reset/request", "public.password_reset_request",
        everyone("2xx"), body=own_address),
    Row("POST", f"{API}/auth/password-reset/confirm", "public.password_reset_confirm",
        everyone("401"), body=lambda world, caller, target: {
            "token": "not-a-real-token", "password": "a long enough new password"}),
    Row("POST", f"{API}/auth/code/request", "public.login_code_request", everyone("2xx"),
        body=own_address),
    Row("POST", f"{API}/auth/code/verify", "public.login_code_verify", everyone("401"),
        body=lambda world, caller, target: {"email": caller.person.email, "code": "000000"}),
    Row("POST", f"{API}/auth/totp/setup", "auth.totp_setup", by_role("403", "2xx", "2xx"),
        body=own_password),
    Row("POST", f"{API}/auth/totp/enable", "auth.totp_enable", by_role("403", "409", "409"),
        body=lambda world, caller, target: {"code": "123456"}),
    Row("POST", f"{API}/auth/totp/disable", "auth.totp_disable", by_role("403", "409", "409"),
        body=lambda world, caller, target: {"code": "123456"}),
    Row("GET", f"{API}/me", "account.read", everyone("2xx")),
    Row("PATCH", f"{API}/me", "account.update", everyone("2xx"),
        body=lambda world, caller, target: {"name": caller.person.name}),
    # administration
    Row("GET", f"{API}/audit", "audit.list", by_role("403", "403", "2xx")),
    Row("GET", f"{API}/audit/verify", "audit.verify", by_role("403", "403", "2xx")),
    Row("POST", f"{API}/admin/phi/rotate", "phi.rotate", by_role("403", "403", "2xx")),
    # inbound webhooks: unsigned deliveries are refused whoever sends them; operators' views
    Row("POST", f"{API}/webhooks/{{id}}", "public.webhook",
        grid(patient="401 401 401", doctor="401 401 401", admin="401 -- 401"),
        target=webhook_provider, body=lambda world, caller, target: {"type": "x"}),
    Row("GET", f"{API}/webhooks/deliveries", "webhook.list", by_role("403", "403", "2xx")),
    Row("POST", f"{API}/webhooks/deliveries/{{id}}/replay", "webhook.replay", ADMIN_ONLY,
        target=webhook_delivery),
    # payments: patients pay; the payer and admins read; admins set prices and approve refunds
    Row("POST", f"{API}/payments", "payment.create", by_role("2xx", "403", "403"),
        body=lambda world, caller, target: {"purpose": "subscription", "planId": "basic-monthly"}),
    Row("GET", f"{API}/payments", "payment.list", everyone("2xx")),
    Row("GET", f"{API}/payments/prices", "price.list", everyone("2xx")),
    Row("PUT", f"{API}/payments/prices", "price.set", by_role("403", "403", "2xx"),
        body=lambda world, caller, target: {"code": "basic-monthly", "currency": "USD",
                                            "amountMinor": 600, "label": "Basic, a month"}),
    Row("GET", f"{API}/payments/{{id}}", "payment.read", OWNER_OR_ADMIN,
        target=payment(PaymentStatus.PENDING)),
    Row("GET", f"{API}/payments/{{id}}/qr", "payment.read", OWNER_OR_ADMIN,
        target=payment(PaymentStatus.PENDING)),
    Row("GET", f"{API}/payments/{{id}}/deeplink", "payment.read",  # none configured here: 409
        grid(patient="409 404 404", doctor="409 404 404", admin="409 -- 409"),
        target=payment(PaymentStatus.PENDING)),
    Row("GET", f"{API}/payments/{{id}}/receipt", "payment.read", OWNER_OR_ADMIN,
        target=payment(PaymentStatus.COMPLETED)),
    Row("POST", f"{API}/payments/{{id}}/refund", "payment.refund",
        grid(patient="2xx 404 404", doctor="403 403 403", admin="2xx -- 2xx"),
        target=payment(PaymentStatus.COMPLETED),
        body=lambda world, caller, target: {"amountMinor": 100}),
    Row("POST", f"{API}/payments/{{id}}/refund/approve", "payment.refund_approve", ADMIN_ONLY,
        target=payment(PaymentStatus.REFUND_PENDING)),
    # telemedicine: doctors keep their own calendars; everyone signed in searches them
    Row("PUT", f"{API}/availability/week", "availability.write", by_role("403", "2xx", "403"),
        body=lambda world, caller, target: {"timeZone": "Asia/Phnom_Penh", "windows": [
            {"weekday": 1, "start": "09:00", "end": "12:00", "slotMinutes": 30}]}),
    Row("POST", f"{API}/availability/exceptions", "availability.write",
        by_role("403", "2xx", "403"), body=with_calendar),
    Row("DELETE", f"{API}/availability/exceptions/{{id}}", "availability.write",
        grid(patient="403 403 403", doctor="2xx 404 404", admin="403 -- 403"), target=day_off),
    Row("GET", f"{API}/availability/doctors/{{id}}", "availability.read",
        alike("2xx", "2xx", "2xx"), target=lambda world, role, relation: calendar_of(world)),
    Row("GET", f"{API}/availability/doctors/{{id}}/free", "availability.read",
        alike("2xx", "2xx", "2xx"), target=lambda world, role, relation: calendar_of(world)),
    Row("GET", f"{API}/availability/specialties/{{id}}/free", "availability.read",
        alike("2xx", "2xx", "2xx"), target=lambda world, role, relation: specialty(world)),
    Row("POST", f"{API}/consultations", "consultation.hold", by_role("2xx", "403", "403"),
        body=free_time),
    Row("GET", f"{API}/consultations", "consultation.list", everyone("2xx")),
    Row("GET", f"{API}/consultations/day", "consultation.day", by_role("403", "2xx", "403")),
    Row("GET", f"{API}/consultations/{{id}}", "consultation.read",
        grid(patient="2xx 404 404", doctor="2xx 404 404", admin="-- -- 2xx"),
        target=consultation_of),
    Row("POST", f"{API}/consultations/{{id}}/cancel", "consultation.cancel",
        grid(patient="2xx 404 404", doctor="2xx 404 404", admin="-- -- 403"),
        target=consultation_of),
    Row("POST", f"{API}/consultations/{{id}}/start", "consultation.conduct",
        grid(patient="403 403 403", doctor="2xx 404 404", admin="-- -- 403"),
        target=consultation_soon),
    Row("POST", f"{API}/consultations/{{id}}/complete", "consultation.conduct",
        grid(patient="403 403 403", doctor="409 404 404", admin="-- -- 403"),
        target=consultation_of),
    Row("POST", f"{API}/consultations/{{id}}/no-show", "consultation.conduct",
        grid(patient="403 403 403", doctor="409 404 404", admin="-- -- 403"),
        target=consultation_of),
    Row("PUT", f"{API}/consultations/{{id}}/notes", "consultation.notes_write",
        grid(patient="403 403 403", doctor="409 404 404", admin="-- -- 403"),
        target=consultation_of, body=lambda world, caller, target: {"notes": "Follow up"}),
    Row("GET", f"{API}/consultations/{{id}}/notes", "consultation.notes_read",
        grid(patient="2xx 404 404", doctor="2xx 404 404", admin="-- -- 403"),
        target=consultation_of),
    Row("POST", f"{API}/consultations/{{id}}/prescriptions", "consultation.prescribe",
        grid(patient="403 403 403", doctor="409 404 404", admin="-- -- 403"),
        target=consultation_of,
        body=lambda world, caller, target: {"prescriptionId": str(uuid.uuid4())}),
    Row("GET", f"{API}/consultations/{{id}}/prescriptions", "consultation.prescriptions",
        grid(patient="2xx 404 404", doctor="2xx 404 404", admin="-- -- 403"),
        target=consultation_of),
    Row("POST", f"{API}/consultations/{{id}}/reschedule", "consultation.reschedule",
        grid(patient="2xx 404 404", doctor="403 403 403", admin="-- -- 403"),
        target=consultation_of, body=lambda world, caller, target: another_time()),
    # subscriptions: plans for everyone, set by admins; a patient's own subscription
    Row("GET", f"{API}/subscriptions/plans", "plan.list", everyone("2xx")),
    Row("PUT", f"{API}/subscriptions/plans/{{id}}", "plan.set",
        grid(patient="403 403 403", doctor="403 403 403", admin="2xx -- 2xx"),
        target=plan_code, body=lambda world, caller, target: {
            "name": "Basic", "periodDays": 30, "entitlements": {"consultationsPerMonth": 3}}),
    Row("GET", f"{API}/subscriptions/me", "subscription.self", by_role("404", "403", "403")),
    Row("POST", f"{API}/subscriptions/me/cancel", "subscription.self",
        by_role("404", "403", "403")),
    Row("POST", f"{API}/subscriptions/me/change", "subscription.self",
        by_role("404", "403", "403"),
        body=lambda world, caller, target: {"planId": "premium-monthly"}),
)  # fmt: skip


class Cell(NamedTuple):
    row: Row
    role: Role
    relation: str | None
    expected: str

    @property
    def name(self) -> str:
        return f"{self.row.name} as {self.role.value}" + (
            f" on {self.relation}" if self.relation else ""
        )


CELLS = [
    Cell(row, role, relation, expected)
    for row in ROWS
    for (role, relation), expected in row.cells.items()
]


# --- running a cell ----------------------------------------------------------------------------


@dataclass
class Matrix:
    api: Any
    services: Services
    settings: Settings

    async def reset(self) -> World:
        """Back to the starting world: nothing from an earlier cell survives."""
        async with self.services.pool.connection() as conn:
            await conn.execute(
                "TRUNCATE users, jobs, anchor_batches, webhook_deliveries, payments CASCADE"
            )
        cast = await add_cast(self.services)
        await connect(self.services, cast.alice.id, cast.chantha.id)
        return World(self.services, cast)

    async def call(
        self, row: Row, world: World, role: Role, relation: str | None, *, token: bool = True
    ) -> Any:
        caller = world.caller(role)
        target = None
        if row.target is not None:
            target = await row.target(world, role, relation or OWN)
            assert target is not None, "the table expects a cell that cannot be built"
        body = row.body(world, caller, target) if row.body else None
        if inspect.isawaitable(body):
            body = await body
        url = row.path.replace("{id}", target) if target else row.path
        headers = caller.headers if token else {}
        if isinstance(body, Form):
            return await self.api.request(
                row.method, url, data=body.fields, files={"file": body.file}, headers=headers
            )
        return await self.api.request(row.method, url, json=body, headers=headers)


def matches(status: int, expected: str) -> bool:
    return 200 <= status < 300 if expected == "2xx" else status == int(expected)


@pytest.fixture(scope="module")
def matrix_settings(servers, template_database, tmp_path_factory) -> Iterator[Settings]:
    name = create_database(servers.admin_database_url, template=template_database)
    yield make_settings(
        database_url_for(servers.admin_database_url, name),
        servers.redis_url,
        Path(tmp_path_factory.mktemp("matrix")) / "data",
        # hundreds of requests from one address within a minute: not what this tests
        rate_limit_auth_per_minute=100_000,
        rate_limit_user_per_minute=100_000,
        bakong_account_id="healthplat@aclb",
    )
    drop_database(servers.admin_database_url, name)


@pytest.fixture(scope="module")
async def matrix(matrix_settings) -> AsyncIterator[Matrix]:
    services = build_services(
        matrix_settings, build_broker(matrix_settings.redis_url), pool_max_size=2
    )
    await services.open()
    try:
        async with api_client(matrix_settings) as api:
            yield Matrix(api=api, services=services, settings=matrix_settings)
    finally:
        await services.close()


@pytest.mark.parametrize("cell", CELLS, ids=[cell.name for cell in CELLS])
async def test_authorization_matrix(matrix: Matrix, cell: Cell) -> None:
    world = await matrix.reset()
    response = await matrix.call(cell.row, world, cell.role, cell.relation)
    assert matches(response.status_code, cell.expected), (
        f"{cell.name}: expected {cell.expected}, got {response.status_code}: {response.text[:300]}"
    )
    if not matches(response.status_code, "2xx"):
        assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
async def test_without_a_token_only_public_endpoints_answer(matrix: Matrix, row: Row) -> None:
    world = await matrix.reset()
    role, relation = next(iter(row.cells))
    response = await matrix.call(row, world, role, relation, token=False)
    if POLICIES[row.policy].public:
        # a public endpoint answers a caller without a token as it answers anyone
        assert matches(response.status_code, row.cells[(role, relation)]), response.text
    else:
        assert response.status_code == 401, response.text


# --- no endpoint escapes the table -------------------------------------------------------------


def api_handlers(settings: Settings) -> list[tuple[str, str, Any]]:
    """(method, path with ``{id}`` for parameters, handler) of every /api/v1 route handler."""
    found = []
    for route in create_app(settings).routes:
        if not isinstance(route, HTTPRoute) or not route.path.startswith(API):
            continue
        path = re.sub(r"\{[^}]+\}", "{id}", route.path)
        for handler in route.route_handlers:
            if is_automatic_options(handler):
                continue
            for method in sorted(handler.http_methods):
                found.append((method, path, handler))
    return found


def test_the_walk_finds_the_routes(matrix_settings) -> None:
    """Guards the guard: an empty walk would pass every check below."""
    assert {("GET", f"{API}/patients/{{id}}"), ("POST", f"{API}/connections")} <= {
        (method, path) for method, path, _ in api_handlers(matrix_settings)
    }


def test_every_api_route_declares_a_known_policy_under_the_policy_guard(matrix_settings) -> None:
    problems = []
    for method, path, handler in api_handlers(matrix_settings):
        name = handler.opt.get(POLICY_OPT)
        if name is None:
            problems.append(f'{method} {path}: no opt={{"policy": ...}}')
        elif name not in POLICIES:
            problems.append(f"{method} {path}: policy {name!r} is not in domain/policies.POLICIES")
        if policy_guard not in handler.resolve_guards():
            problems.append(f"{method} {path}: not under the policy guard (mount it in _api_v1)")
    assert not problems, "\n".join(problems)


def test_every_api_route_has_a_row_in_the_matrix(matrix_settings) -> None:
    rows = {(row.method, row.path): row for row in ROWS}
    assert len(rows) == len(ROWS), "two rows for one endpoint"
    missing: list[str] = []
    wrong: list[str] = []
    routes = set()
    for method, path, handler in api_handlers(matrix_settings):
        routes.add((method, path))
        policy = handler.opt.get(POLICY_OPT)
        row = rows.get((method, path))
        if row is None:
            missing.append(f'    Row("{method}", "{path}", "{policy}", by_role(...)),')
        elif row.policy != policy:
            wrong.append(f"{method} {path}: the route says {policy!r}, the row {row.policy!r}")
    stale = sorted(f"{method} {path}" for method, path in set(rows) - routes)
    assert not missing, "endpoints without a row in ROWS; add:\n" + "\n".join(sorted(missing))
    assert not wrong, "\n".join(wrong)
    assert not stale, f"rows for endpoints that no longer exist: {stale}"


def test_each_row_with_a_target_covers_every_role() -> None:
    for row in ROWS:
        assert {role for role, _ in row.cells} == set(ROLES), row.name
        if row.target is None:
            assert all(relation is None for _, relation in row.cells), row.name
        else:
            assert all(relation is not None for _, relation in row.cells), row.name
        assert "{id}" not in row.path or row.target is not None, row.name
