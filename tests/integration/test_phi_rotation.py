"""PHI key rotation on real PostgreSQL: re-sealed under the active key, resumable, audited."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta

import msgspec
import psycopg
import pytest

from domain.adapters.phi.cipher import PhiCipher
from domain.adapters.unit_of_work import PgUnitOfWorkFactory
from domain.auditing import SYSTEM
from domain.consultations.model import ConsultationStatus
from domain.documents.kind import DOCUMENTS
from domain.doses.model import DoseEventKind
from domain.errors import PermanentFailure
from domain.files.details import seal_details
from domain.files.kind import FileKind
from domain.files.uploads import StagedUpload
from domain.notifications.email import SendEmail, submit_email
from domain.notifications.inapp import NoticeKind
from domain.notifications.notices import notify
from domain.phi.columns import (
    CONSULTATION_NOTES,
    EMAIL_TO_ADDRESS,
    LOOKUP_KEY,
    PATIENT_CLINICAL_NOTES,
    PATIENT_DATE_OF_BIRTH,
    PRESCRIPTION_PRESCRIBER,
    RECORD_DESCRIPTION,
    SEALED_COLUMNS,
    UPLOAD_DETAILS,
    USER_EMAIL,
    USER_NAME,
    USER_PHONE,
    USER_TOTP_SECRET,
)
from domain.phi.jobs import submit_rotation
from domain.phi.rotation import rotate_keys
from domain.prescriptions.model import ItemInput, new_batch
from domain.records.kind import RECORDS
from domain.scans.kind import SCANS
from domain.sealing import Sealed, SealedColumn
from domain.vitals.model import HeartRate, Recorder, new_reading
from tests.conftest import TEST_PHI_KEYS
from tests.support.accounts import signup_body
from tests.support.api import ADMIN, api_client, assert_problem, bearer, job_rows, noop_job
from tests.support.consultations import add_consultation, archive_now
from tests.support.handlers import rotate_phi_keys
from tests.support.payments import add_payment
from tests.support.pdfs import png_image, valid_pdf
from tests.support.people import PATIENT_ALICE, PEOPLE
from tests.support.platform import wired
from tests.support.prescriptions import add_dose
from tests.support.records import add_document, add_record
from tests.support.rows import audit_events, rows
from tests.support.scans import add_read_scan
from tests.support.users import Cast, add_cast

OLD, ACTIVE = "test-k1", "test-k2"
NOTES = "mild asthma; salbutamol as needed"
TOTP = "JBSWY3DPEHPK3PXP"


def sealed_values(database_url: str, column: SealedColumn) -> dict[uuid.UUID, Sealed]:
    found = rows(
        database_url,
        f"SELECT {column.row_key} AS id, {column.sealed_column} AS blob, "
        f"{column.key_id_column} AS key_id FROM {column.table} "
        f"WHERE {column.sealed_column} IS NOT NULL",
    )
    return {row["id"]: Sealed(row["key_id"], bytes(row["blob"])) for row in found}


def plaintexts(services, database_url: str, column: SealedColumn) -> dict[uuid.UUID, bytes]:
    return {
        row_id: services.cipher.open(sealed, column.context(row_id))
        for row_id, sealed in sealed_values(database_url, column).items()
    }


def key_ids(database_url: str) -> set[str]:
    return {
        sealed.key_id
        for column in SEALED_COLUMNS
        for sealed in sealed_values(database_url, column).values()
    }


async def seal_extra(services, column: SealedColumn, row_id: uuid.UUID, value: str) -> None:
    sealed = services.cipher.seal(value.encode(), column.context(row_id))
    async with services.uow() as uow:
        await uow.connection.execute(
            f"UPDATE {column.table} SET {column.sealed_column} = %s, "
            f"{column.key_id_column} = %s WHERE {column.row_key} = %s",
            (sealed.blob, sealed.key_id, row_id),
        )


def under_old_key(services):
    """The services sealing with the old key: directly, and through the repositories."""
    cipher = PhiCipher(TEST_PHI_KEYS, OLD)
    uow = PgUnitOfWorkFactory(
        services.pool,
        services.clock,
        cipher,
        services.settings.request_fingerprint_key,
        services.audit_chaining,  # settled with the services
    )
    return dataclasses.replace(services, cipher=cipher, uow=uow)


@pytest.fixture
async def old_key_cast(services) -> Cast:
    """Everyone, with every sealed column in use, all sealed under the old key."""
    old = under_old_key(services)
    cast = await add_cast(old)
    await seal_extra(old, PATIENT_CLINICAL_NOTES, cast.alice.id, NOTES)
    await seal_extra(old, USER_TOTP_SECRET, cast.chantha.id, TOTP)
    record_id = uuid.UUID(await add_record(old, cast.alice.id))
    await seal_extra(old, RECORD_DESCRIPTION, record_id, "Lipid panel")
    await add_document(old, cast.alice.id, valid_pdf())  # its file name and data key
    await stage_upload(old, cast.borey.id)
    await stage_upload(old, cast.borey.id, RECORDS, {"record_type": "OTHER", "description": "BP"})
    document = {"filename": "bp.pdf", "data_key": bytes(32), "size_bytes": 5, "page_count": 1}
    await stage_upload(old, cast.borey.id, DOCUMENTS, document)
    await add_read_scan(old, cast.alice.id, png_image())  # its data key, and its reading
    scan = {"data_key": bytes(32), "media_type": "image/png", "page_count": 1, "size_bytes": 5}
    await stage_upload(old, cast.borey.id, SCANS, scan)
    await queue_email(old)
    await leave_notice(old, cast.borey.id)
    await prescribe_and_skip(old, cast)
    await record_vital(old, cast.alice.id)
    await add_payment(old, cast.alice.id)  # what it says about money
    consultation = await add_consultation(old, cast.alice.id, cast.chantha.id)
    await seal_extra(old, CONSULTATION_NOTES, consultation.id, "Follow up in two weeks")
    finished = await add_consultation(  # notes that moved to the history with their consultation
        old, cast.alice.id, cast.chantha.id, ConsultationStatus.COMPLETED, timedelta(days=-40)
    )
    await seal_extra(old, CONSULTATION_NOTES, finished.id, "Stable; see again in a year")
    assert await archive_now(old) == 1
    await receive_webhook(old)  # a provider's delivery, body and all
    return cast


async def prescribe_and_skip(services, cast: Cast) -> None:
    """A prescription's item details, a skipped dose's reason, a batch's items and a scanned
    prescription's prescriber as printed: sealed."""
    dose_id = await add_dose(services, cast.alice.id, cast.chantha.id, timedelta(minutes=-5))
    async with services.uow() as uow:
        await uow.doses.mark_skipped(dose_id, DoseEventKind.SKIPPED, "Nausea", services.clock.now())
        prescription = await uow.prescriptions.get((await uow.doses.get(dose_id)).prescription_id)
        item = prescription.items[0]
        batch = new_batch(cast.chantha.id, [cast.alice.id], [ItemInput(
            medicine_id=item.details.medicine_id, strength="500 mg", dose_amount="1",
            dose_form="tablet", frequency="OD", start_date=item.starts_on, duration_days=3,
        )], False, services.clock.now())  # fmt: skip
        await uow.prescription_batches.add(batch)
    # as a doctor's confirmation of a scan keeps it
    await seal_extra(services, PRESCRIPTION_PRESCRIBER, prescription.id, "Dr. Sok Dara")


async def record_vital(services, patient_id: uuid.UUID) -> None:
    """A vital-sign reading: its values are sealed too."""
    now = services.clock.now()
    reading = new_reading(
        patient_id,
        HeartRate(bpm=72),
        now,
        recorded_by=patient_id,
        recorder=Recorder.PATIENT,
        now=now,
    )
    async with services.uow() as uow:
        await uow.readings.add(reading)


async def receive_webhook(services) -> None:
    async with services.uow() as uow:
        await uow.deliveries.add(
            "bakong", "msg_1", "payment.completed", b'{"amount": "12.50"}', datetime.now(UTC)
        )


ALERT = SendEmail(
    to="borey@example.org",
    template="health_alert",
    data={"name": "Borey", "alertTitle": "Blood pressure", "alertMessage": "Call your doctor"},
)


async def queue_email(services) -> None:
    """An e-mail waiting for its job: its address and data are sealed too."""
    await wired(services).run(
        submit_email,
        ALERT,
        owner_id="admin-1",
        idempotency_key=None,
        message_id_domain="healthplat.test",
        audit=SYSTEM,
    )


async def leave_notice(services, user_id: uuid.UUID) -> None:
    """An in-app notice: its fields are sealed too."""
    async with services.uow() as uow:
        await notify(uow, user_id, NoticeKind.HEALTH_ALERT, {"alertTitle": "Blood pressure"})


async def stage_upload(
    services, patient_id: uuid.UUID, kind: FileKind | None = None, details: dict | None = None
) -> None:
    """An upload waiting for its job: its details are sealed too. Without a ``kind``, one
    staged before details were sealed once (sealed whole, as JSON); with one, one staged
    today (each PHI detail sealed for its file's column)."""
    job = await noop_job(services, str(patient_id))
    upload_id = uuid.uuid4()
    if kind is None:
        public, sealed = None, {}
        legacy = services.cipher.seal(b"{}", UPLOAD_DETAILS.context(upload_id))
    else:
        public, sealed = seal_details(kind, services.cipher, upload_id, details or {})
        legacy = None
    async with services.uow() as uow:
        await uow.uploads.add_chunk(upload_id, 0, b"bytes")
        await uow.uploads.add(
            StagedUpload(
                id=upload_id,
                job_id=job.id,
                purpose=(kind or RECORDS).name,
                patient_id=patient_id,
                uploaded_by=patient_id,
                size_bytes=5,
                sha256=b"0" * 32,
                public=public,
                sealed=sealed,
                legacy=legacy,
                created_at=services.clock.now(),
            )
        )


async def test_rows_under_the_old_key_are_resealed_under_the_active_one(
    services, database_url, old_key_cast
) -> None:
    assert key_ids(database_url) == {OLD}
    before = {column: plaintexts(services, database_url, column) for column in SEALED_COLUMNS}
    job = (
        await wired(services).run(submit_rotation, SYSTEM, owner_id="admin-1", idempotency_key=None)
    ).job

    result = await rotate_phi_keys(job, services)

    assert result == {
        "resealed": {
            "users.name": len(PEOPLE),
            "users.email": len(PEOPLE),
            "users.phone": len(PEOPLE),
            "users.totp_secret": 1,
            "patient_profiles.date_of_birth": 2,
            "patient_profiles.clinical_notes": 1,
            "uploads.details": 1,
            "uploads.records_description": 1,
            "uploads.documents_filename": 1,
            "uploads.documents_data_key": 1,
            "records.description": 1,
            "documents.filename": 1,
            "documents.data_key": 1,
            "uploads.scans_data_key": 1,
            "scans.data_key": 1,
            "scan_readings.reading": 1,
            "email_messages.to_address": 1,
            "email_messages.data": 1,
            "notices.data": 1,
            "prescription_items.details": 1,
            "prescriptions.prescriber": 1,
            "doses.reason": 1,
            "prescription_batches.items": 1,
            "vital_readings.measurement": 1,
            "webhook_deliveries.body": 1,
            "payments.details": 1,
            "consultations.notes": 1,
            "consultations_history.notes": 1,
            "lookup_keys.key": 1,
        }
    }
    assert key_ids(database_url) == {ACTIVE}
    after = {column: plaintexts(services, database_url, column) for column in SEALED_COLUMNS}
    assert after == before
    alice = old_key_cast.alice.id
    assert after[PATIENT_DATE_OF_BIRTH][alice].decode() == PATIENT_ALICE.date_of_birth
    assert after[USER_PHONE][alice].decode() == PATIENT_ALICE.phone
    assert after[USER_NAME][alice].decode() == PATIENT_ALICE.name
    assert after[USER_EMAIL][alice].decode() == PATIENT_ALICE.email
    [email_id] = after[EMAIL_TO_ADDRESS]
    async with services.uow() as uow:  # the worker's view: the same e-mail, under the new key
        email = await uow.emails.get(email_id)
    assert email is not None and (email.to_address, email.data) == (ALERT.to, ALERT.data)

    again = await rotate_phi_keys(job, services)
    assert again == {"resealed": {name: 0 for name in result["resealed"]}}


async def test_each_batch_is_audited_with_table_and_column(
    services, database_url, old_key_cast
) -> None:
    report = await rotate_keys(services.uow, services.cipher, SYSTEM, batch_size=2)

    assert report.resealed["users.phone"] == len(PEOPLE)
    events = audit_events(database_url, "phi.rotate")
    phone = [e for e in events if e["changed_fields"] == ["phone"]]
    assert len(phone) == 3  # 5 rows in batches of 2
    assert {e["resource_type"] for e in phone} == {"users"}
    assert {(e["resource_type"], tuple(e["changed_fields"])) for e in events} == {
        ("users", ("name",)),
        ("users", ("email",)),
        ("users", ("phone",)),
        ("users", ("totp_secret",)),
        ("patient_profiles", ("date_of_birth",)),
        ("patient_profiles", ("clinical_notes",)),
        ("uploads", ("details",)),
        ("uploads", ("records_description",)),
        ("uploads", ("documents_filename",)),
        ("uploads", ("documents_data_key",)),
        ("records", ("description",)),
        ("documents", ("filename",)),
        ("documents", ("data_key",)),
        ("uploads", ("scans_data_key",)),
        ("scans", ("data_key",)),
        ("scan_readings", ("reading",)),
        ("email_messages", ("to_address",)),
        ("email_messages", ("data",)),
        ("vital_readings", ("measurement",)),
        ("notices", ("data",)),
        ("prescription_items", ("details",)),
        ("prescriptions", ("prescriber",)),
        ("doses", ("reason",)),
        ("prescription_batches", ("items",)),
        ("webhook_deliveries", ("body",)),
        ("payments", ("details",)),
        ("consultations", ("notes",)),
        ("consultations_history", ("notes",)),
        ("lookup_keys", ("key",)),
    }
    assert {e["actor_id"] for e in events} == {"system"}


def email_lookups(database_url: str) -> dict[uuid.UUID, bytes]:
    found = rows(database_url, "SELECT id, email_lookup FROM users")
    return {row["id"]: bytes(row["email_lookup"]) for row in found}


async def signs_in(app_settings, person=PATIENT_ALICE) -> bool:
    """A password sign-in through a freshly started app (nothing cached from before)."""
    async with api_client(app_settings) as api:
        body = {"email": person.email.upper(), "password": person.password}
        response = await api.post("/api/v1/auth/login", json=body)
    assert response.status_code in (200, 401), response.text
    return response.status_code == 200


async def test_sign_in_and_one_account_per_address_hold_through_a_rotation_and_after(
    services, settings, database_url, old_key_cast
) -> None:
    """The e-mail lookup's key is not a PHI key: re-sealing names, addresses and the lookup
    key itself leaves every lookup as it was, and the old key can go."""
    lookups = email_lookups(database_url)
    assert await signs_in(settings)

    # Halfway: the lookup key and the names re-sealed, the addresses still under the old key.
    await rotate_keys(services.uow, services.cipher, SYSTEM, columns=(LOOKUP_KEY, USER_NAME))
    assert {s.key_id for s in sealed_values(database_url, LOOKUP_KEY).values()} == {ACTIVE}
    assert {s.key_id for s in sealed_values(database_url, USER_EMAIL).values()} == {OLD}
    assert await signs_in(settings)

    report = await rotate_keys(services.uow, services.cipher, SYSTEM)
    assert report.resealed["users.email"] == len(PEOPLE) and report.unreadable == {}
    assert key_ids(database_url) == {ACTIVE}

    retired = msgspec.structs.replace(settings, phi_keys={ACTIVE: TEST_PHI_KEYS[ACTIVE]})
    assert await signs_in(retired)
    assert not await signs_in(
        retired, msgspec.structs.replace(PATIENT_ALICE, password="not alice's password")
    )
    assert email_lookups(database_url) == lookups
    async with api_client(retired) as api:  # the address is still taken, however it is typed
        again = {**signup_body(PATIENT_ALICE), "email": PATIENT_ALICE.email.upper()}
        assert (await api.post("/api/v1/auth/signup", json=again)).status_code == 201
    assert len(email_lookups(database_url)) == len(PEOPLE)


class CrashingCipher:
    """The real cipher, until the ``crash_at``-th seal: a worker dying mid-run."""

    def __init__(self, cipher, crash_at: int) -> None:
        self._cipher = cipher
        self._seals = 0
        self._crash_at = crash_at
        self.active_key_id = cipher.active_key_id

    def open(self, sealed, context):
        return self._cipher.open(sealed, context)

    def seal(self, plaintext, context):
        self._seals += 1
        if self._seals == self._crash_at:
            raise RuntimeError("worker killed")
        return self._cipher.seal(plaintext, context)

    def needs_reseal(self, sealed):
        return self._cipher.needs_reseal(sealed)


async def test_a_crash_keeps_finished_batches_and_a_rerun_finishes(
    services, database_url, old_key_cast
) -> None:
    before = plaintexts(services, database_url, USER_PHONE)
    with pytest.raises(RuntimeError):
        await rotate_keys(
            services.uow,
            CrashingCipher(services.cipher, crash_at=3),
            SYSTEM,
            columns=(USER_PHONE,),
            batch_size=2,
        )
    keys = [sealed.key_id for sealed in sealed_values(database_url, USER_PHONE).values()]
    assert sorted(keys) == [OLD, OLD, OLD, ACTIVE, ACTIVE]  # batch 1 committed, batch 2 not

    report = await rotate_keys(services.uow, services.cipher, SYSTEM, columns=(USER_PHONE,))

    assert report.resealed == {"users.phone": 3}
    assert plaintexts(services, database_url, USER_PHONE) == before


async def test_a_row_held_by_another_transaction_is_skipped_not_waited_for(
    services, database_url, old_key_cast
) -> None:
    with psycopg.connect(database_url) as other:
        other.execute("SELECT 1 FROM users WHERE id = %s FOR UPDATE", (old_key_cast.borey.id,))
        report = await rotate_keys(services.uow, services.cipher, SYSTEM, columns=(USER_PHONE,))
        assert report.resealed == {"users.phone": len(PEOPLE) - 1}
    later = await rotate_keys(services.uow, services.cipher, SYSTEM, columns=(USER_PHONE,))
    assert later.resealed == {"users.phone": 1}


async def test_a_value_that_will_not_open_is_left_alone_and_fails_the_job(
    services, database_url, old_key_cast
) -> None:
    stranger = PhiCipher({"gone": bytes(range(64, 96))}, "gone")
    await seal_extra(
        dataclasses.replace(services, cipher=stranger),
        USER_PHONE,
        old_key_cast.borey.id,
        "+85500000000",
    )
    job = (
        await wired(services).run(submit_rotation, SYSTEM, owner_id="admin-1", idempotency_key=None)
    ).job

    with pytest.raises(PermanentFailure) as failure:
        await rotate_phi_keys(job, services)

    assert failure.value.code == "phi_unreadable"
    assert "users.phone: 1" in failure.value.message
    phones = sealed_values(database_url, USER_PHONE)
    assert phones[old_key_cast.borey.id].key_id == "gone"
    assert sorted(s.key_id for s in phones.values()).count(ACTIVE) == len(PEOPLE) - 1
    assert key_ids(database_url) == {ACTIVE, "gone"}


# --- the endpoint --------------------------------------------------------------------------


async def test_admin_queues_a_rotation_idempotently(settings, database_url) -> None:
    async with api_client(settings) as api:
        headers = {**ADMIN, "Idempotency-Key": "rotate-2031-03"}
        first = await api.post("/api/v1/admin/phi/rotate", headers=headers)
        again = await api.post("/api/v1/admin/phi/rotate", headers=headers)

    assert first.status_code == 202, first.text
    job_id = first.json()["jobId"]
    assert first.headers["location"] == f"/api/v1/jobs/{job_id}"
    assert again.status_code == 202 and again.json()["jobId"] == job_id
    assert again.headers["idempotent-replayed"] == "true"
    [job] = job_rows(database_url)
    assert job["kind"] == "phi.rotate" and job["payload"] == {} and job["owner_id"] == "admin-1"
    [requested] = audit_events(database_url, "phi.rotate.request")
    assert requested["resource_id"] == job_id and requested["actor_id"] == "admin-1"


async def test_only_admins_rotate_keys(settings, database_url) -> None:
    async with api_client(settings) as api:
        assert_problem(await api.post("/api/v1/admin/phi/rotate"), 401)
        assert_problem(
            await api.post("/api/v1/admin/phi/rotate", headers=bearer("u1", "doctor")), 403
        )
    assert job_rows(database_url) == []
