"""A patient's data: who sees it, sealed at rest, and every read on the audit trail."""

from __future__ import annotations

import uuid

import pytest

from domain.adapters.audit.log import PgAuditLog
from domain.connections.model import ConnectionStatus
from tests.support.api import api_client, assert_problem
from tests.support.rows import audit_events, rows
from tests.support.users import add_cast, connect

NOTES = "Stable angina since 2019; beta blocker well tolerated. Check HbA1c next visit."


@pytest.fixture
async def api(settings):
    async with api_client(settings) as client:
        yield client


@pytest.fixture
async def cast(services):
    """Alice is Chantha's patient; Borey and Dararith are strangers to both."""
    everyone = await add_cast(services)
    await connect(services, everyone.alice.id, everyone.chantha.id)
    return everyone


def patient_url(member) -> str:
    return f"/api/v1/patients/{member.id}"


def notes_url(member) -> str:
    return f"/api/v1/patients/{member.id}/clinical-notes"


def user_row(database_url: str, user_id) -> dict:
    [row] = rows(
        database_url,
        """
        SELECT u.phone_sealed, u.phone_key_id, p.date_of_birth_sealed, p.date_of_birth_key_id,
               p.clinical_notes_sealed, p.clinical_notes_key_id
        FROM users u LEFT JOIN patient_profiles p ON p.user_id = u.id WHERE u.id = %s
        """,
        (user_id,),
    )
    return row


# --- reading -----------------------------------------------------------------------------------


@pytest.mark.parametrize("reader", ["alice", "chantha", "eang"], ids=["self", "doctor", "admin"])
async def test_the_patient_their_doctor_and_an_admin_read_the_details(
    api, cast, settings, reader
) -> None:
    caller = getattr(cast, reader)
    response = await api.get(patient_url(cast.alice), headers=caller.headers)

    assert response.status_code == 200, response.text
    alice = cast.alice.person
    assert response.json() == {
        "id": str(cast.alice.id),
        "name": alice.name,
        "email": alice.email,
        "phone": alice.phone,
        "dateOfBirth": alice.date_of_birth,
    }
    [read] = audit_events(settings.database_url, "patient.read")
    assert read["actor_id"] == str(caller.id) and read["actor_role"] == caller.role.value
    assert read["resource_type"] == "patient" and read["resource_id"] == str(cast.alice.id)
    assert read["changed_fields"] == []


@pytest.mark.parametrize("reader", ["borey", "dararith"], ids=["other-patient", "other-doctor"])
async def test_anyone_else_gets_the_404_of_a_missing_patient(api, cast, settings, reader) -> None:
    caller = getattr(cast, reader)
    theirs = await api.get(patient_url(cast.alice), headers=caller.headers)
    missing = await api.get(f"/api/v1/patients/{uuid.uuid4()}", headers=caller.headers)

    assert assert_problem(theirs, 404) == assert_problem(missing, 404)
    assert audit_events(settings.database_url, "patient.read") == []
    assert cast.alice.person.name not in theirs.text


async def test_a_doctor_id_is_not_a_patient(api, cast) -> None:
    assert_problem(await api.get(patient_url(cast.chantha), headers=cast.eang.headers), 404)


@pytest.mark.parametrize(
    "status", [ConnectionStatus.PENDING, ConnectionStatus.REJECTED, ConnectionStatus.REVOKED]
)
async def test_only_an_active_connection_opens_a_patients_data(api, services, cast, status) -> None:
    await connect(services, cast.borey.id, cast.dararith.id, status=status)
    response = await api.get(patient_url(cast.borey), headers=cast.dararith.headers)
    assert_problem(response, 404)


async def test_revoking_the_connection_closes_the_data(api, services, cast) -> None:
    listed = (await api.get("/api/v1/connections", headers=cast.alice.headers)).json()["items"]
    revoke = await api.post(
        f"/api/v1/connections/{listed[0]['id']}/revoke", headers=cast.alice.headers
    )
    assert revoke.status_code == 200
    assert_problem(await api.get(patient_url(cast.alice), headers=cast.chantha.headers), 404)


async def test_no_read_without_its_audit_event(api, cast, monkeypatch) -> None:
    """The event is written in the read's transaction: if it cannot be, nothing is shown."""

    async def broken(self, context, entry) -> None:
        raise RuntimeError("the audit trail is unavailable")

    monkeypatch.setattr(PgAuditLog, "record", broken)
    for url in (patient_url(cast.alice), notes_url(cast.alice)):
        response = await api.get(url, headers=cast.alice.headers)
        assert_problem(response, 500)
        assert cast.alice.person.phone not in response.text
        assert cast.alice.person.name not in response.text


# --- sealed at rest ----------------------------------------------------------------------------


async def test_phone_and_date_of_birth_are_sealed_at_rest(cast, settings) -> None:
    row = user_row(settings.database_url, cast.alice.id)
    alice = cast.alice.person
    for column, plaintext in (("phone", alice.phone), ("date_of_birth", alice.date_of_birth)):
        blob = bytes(row[f"{column}_sealed"])
        assert plaintext.encode() not in blob
        assert row[f"{column}_key_id"] == settings.phi_active_key_id


# --- changing one's own details ----------------------------------------------------------------


async def test_the_patient_changes_phone_and_date_of_birth(api, cast, settings) -> None:
    new = {"phone": "+85512000111", "dateOfBirth": "1985-03-01"}
    response = await api.patch(patient_url(cast.alice), json=new, headers=cast.alice.headers)

    assert response.status_code == 200, response.text
    assert {key: response.json()[key] for key in new} == new
    again = (await api.get(patient_url(cast.alice), headers=cast.chantha.headers)).json()
    assert {key: again[key] for key in new} == new
    row = user_row(settings.database_url, cast.alice.id)
    assert b"+85512000111" not in bytes(row["phone_sealed"])
    assert b"1985-03-01" not in bytes(row["date_of_birth_sealed"])
    [update] = audit_events(settings.database_url, "patient.update")
    assert update["changed_fields"] == ["phone", "date_of_birth"]
    assert update["actor_id"] == str(cast.alice.id)
    assert "+85512000111" not in str(update)


async def test_only_the_fields_sent_change_and_null_clears(api, cast, settings) -> None:
    response = await api.patch(
        patient_url(cast.alice), json={"phone": None}, headers=cast.alice.headers
    )
    assert response.status_code == 200
    assert response.json()["phone"] is None
    assert response.json()["dateOfBirth"] == cast.alice.person.date_of_birth
    row = user_row(settings.database_url, cast.alice.id)
    assert row["phone_sealed"] is None and row["phone_key_id"] is None
    [update] = audit_events(settings.database_url, "patient.update")
    assert update["changed_fields"] == ["phone"]


async def test_a_phone_is_normalised(api, cast) -> None:
    response = await api.patch(
        patient_url(cast.alice), json={"phone": "+855 12-000 111"}, headers=cast.alice.headers
    )
    assert response.json()["phone"] == "+85512000111"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"phone": "012 345 678"}, "phone"),
        ({"dateOfBirth": "2999-01-01"}, "dateOfBirth"),
        ({"dateOfBirth": "1850-01-01"}, "dateOfBirth"),
        ({}, "body"),
    ],
    ids=["local-phone", "future-birth", "too-old", "nothing"],
)
async def test_unacceptable_changes_are_a_422_and_change_nothing(
    api, cast, settings, body, field
) -> None:
    before = user_row(settings.database_url, cast.alice.id)
    response = await api.patch(patient_url(cast.alice), json=body, headers=cast.alice.headers)
    problem = assert_problem(response, 422)
    assert problem["errors"][0]["field"] == field
    for value in body.values():
        assert value not in response.text
    assert user_row(settings.database_url, cast.alice.id) == before
    assert audit_events(settings.database_url, "patient.update") == []


@pytest.mark.parametrize(
    "body",
    [{"dateOfBirth": "yesterday"}, {"phone": 12345}, {"name": "Mallory"}],
    ids=["not-a-date", "not-a-string", "unknown-field"],
)
async def test_malformed_changes_are_a_400(api, cast, body) -> None:
    response = await api.patch(patient_url(cast.alice), json=body, headers=cast.alice.headers)
    assert_problem(response, 400)


async def test_nobody_else_changes_a_patients_details(api, cast, settings) -> None:
    before = user_row(settings.database_url, cast.alice.id)
    body = {"phone": "+85599999999"}
    assert_problem(
        await api.patch(patient_url(cast.alice), json=body, headers=cast.borey.headers), 404
    )
    for other in (cast.chantha, cast.eang):
        assert_problem(
            await api.patch(patient_url(cast.alice), json=body, headers=other.headers), 403
        )
    assert user_row(settings.database_url, cast.alice.id) == before


# --- clinical notes ----------------------------------------------------------------------------


async def test_the_connected_doctor_writes_notes_and_both_read_them(api, cast, settings) -> None:
    written = await api.put(
        notes_url(cast.alice), json={"notes": NOTES}, headers=cast.chantha.headers
    )
    assert written.status_code == 200, written.text
    assert written.json() == {"patientId": str(cast.alice.id), "notes": NOTES}

    for reader in (cast.alice, cast.chantha):
        response = await api.get(notes_url(cast.alice), headers=reader.headers)
        assert response.status_code == 200 and response.json()["notes"] == NOTES

    row = user_row(settings.database_url, cast.alice.id)
    assert b"angina" not in bytes(row["clinical_notes_sealed"])
    assert row["clinical_notes_key_id"] == settings.phi_active_key_id
    [write] = audit_events(settings.database_url, "clinical_notes.write")
    assert write["changed_fields"] == ["clinical_notes"]
    assert write["actor_id"] == str(cast.chantha.id)
    reads = audit_events(settings.database_url, "clinical_notes.read")
    assert [read["actor_id"] for read in reads] == [str(cast.alice.id), str(cast.chantha.id)]


async def test_no_notes_yet_reads_as_null(api, cast) -> None:
    response = await api.get(notes_url(cast.alice), headers=cast.alice.headers)
    assert response.json() == {"patientId": str(cast.alice.id), "notes": None}


async def test_notes_for_a_patient_without_a_profile_row(api, services, cast, settings) -> None:
    rows(settings.database_url, "DELETE FROM patient_profiles WHERE user_id = %s RETURNING 1",
         (cast.alice.id,))  # fmt: skip
    response = await api.put(
        notes_url(cast.alice), json={"notes": NOTES}, headers=cast.chantha.headers
    )
    assert response.status_code == 200
    assert (await api.get(notes_url(cast.alice), headers=cast.alice.headers)).json()[
        "notes"
    ] == NOTES


async def test_who_may_not_touch_clinical_notes(api, cast, settings) -> None:
    body = {"notes": NOTES}
    assert_problem(await api.put(notes_url(cast.alice), json=body, headers=cast.alice.headers), 403)
    assert_problem(
        await api.put(notes_url(cast.alice), json=body, headers=cast.dararith.headers), 404
    )
    assert_problem(await api.get(notes_url(cast.alice), headers=cast.dararith.headers), 404)
    assert_problem(await api.get(notes_url(cast.alice), headers=cast.borey.headers), 404)
    assert_problem(await api.get(notes_url(cast.alice), headers=cast.eang.headers), 403)
    assert user_row(settings.database_url, cast.alice.id)["clinical_notes_sealed"] is None


async def test_notes_have_a_size_limit(api, cast) -> None:
    response = await api.put(
        notes_url(cast.alice), json={"notes": "x" * 20_001}, headers=cast.chantha.headers
    )
    assert_problem(response, 400)


# --- the doctor directory ----------------------------------------------------------------------


@pytest.mark.parametrize("reader", ["alice", "chantha", "eang"])
async def test_anyone_signed_in_lists_the_doctors(api, cast, reader) -> None:
    response = await api.get("/api/v1/doctors", headers=getattr(cast, reader).headers)
    assert response.status_code == 200
    items = response.json()["items"]
    assert [item["name"] for item in items] == [cast.chantha.person.name, cast.dararith.person.name]
    chantha = items[0]
    assert chantha == {
        "id": str(cast.chantha.id),
        "name": cast.chantha.person.name,
        "specialty": "cardiology",
        "consultationFeeCents": 2500,
        "currency": "USD",
    }
    assert cast.chantha.person.phone not in response.text
    assert cast.chantha.person.email not in response.text


async def test_the_directory_pages_and_hides_inactive_doctors(api, cast, settings) -> None:
    rows(settings.database_url, "UPDATE users SET status = 'disabled' WHERE id = %s RETURNING 1",
         (cast.dararith.id,))  # fmt: skip
    everyone = (await api.get("/api/v1/doctors", headers=cast.alice.headers)).json()["items"]
    assert [item["id"] for item in everyone] == [str(cast.chantha.id)]
    page = await api.get("/api/v1/doctors", params={"offset": 1}, headers=cast.alice.headers)
    assert page.json()["items"] == []
