"""Prescriptions through the API: a connected doctor writes, edits and activates one (doses
made, the patient e-mailed and told in the app), the patient reads it and its history,
interactions are reported, bad items are 422s naming the item, strangers see nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.support.api import api_client, assert_problem
from tests.support.emails import stored_emails
from tests.support.medicines import seeded_medicine
from tests.support.rows import audit_events, rows
from tests.support.users import add_cast, connect

PRESCRIPTIONS = "/api/v1/prescriptions"


@pytest.fixture
async def api(settings):
    async with api_client(settings) as client:
        yield client


@pytest.fixture
async def cast(services):
    everyone = await add_cast(services)
    await connect(services, everyone.alice.id, everyone.chantha.id)
    return everyone


@pytest.fixture
async def drugs(services) -> dict[str, str]:
    return {
        name: await seeded_medicine(services, name, form)
        for name, form in (
            ("amoxicillin", "capsule"),
            ("paracetamol", "tablet"),
            ("warfarin", "tablet"),
            ("ibuprofen", "tablet"),
            ("salbutamol", "inhaler"),
        )
    }


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def item(medicine_id: str, **changes) -> dict:
    return {
        "medicineId": medicine_id,
        "strength": "500 mg",
        "doseAmount": "1",
        "doseForm": "capsule",
        "frequency": "TID",
        "timing": "after_meals",
        "startDate": today(),
        "durationDays": 7,
        "instructions": "Finish the course.",
        **changes,
    }


async def prescribe(api, doctor, patient, *items) -> dict:
    response = await api.post(
        PRESCRIPTIONS,
        json={"patientId": str(patient.id), "items": list(items)},
        headers=doctor.headers,
    )
    assert response.status_code == 201, response.text
    return response.json()


async def activate(api, doctor, prescription_id: str) -> dict:
    response = await api.post(f"{PRESCRIPTIONS}/{prescription_id}/activate", headers=doctor.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_doctor_writes_activates_and_the_patient_reads(api, cast, drugs, settings) -> None:
    draft = await prescribe(
        api,
        cast.chantha,
        cast.alice,
        item(drugs["amoxicillin"]),
        item(drugs["salbutamol"], strength="100 micrograms/dose", doseAmount="2",
             doseForm="puff", frequency="PRN", timing="any", durationDays=30),
    )  # fmt: skip
    assert draft["status"] == "draft" and draft["warnings"] == []
    first, second = draft["items"]
    assert first["schedule"] == {
        "notation": "TID",
        "times": ["08:00", "14:00", "20:00"],
        "amounts": ["1", "1", "1"],
        "everyDays": 1,
        "asNeeded": False,
    }
    assert second["schedule"]["asNeeded"] and second["endDate"] > first["endDate"]
    assert rows(settings.database_url, "SELECT count(*) AS n FROM doses")[0]["n"] == 0

    active = await activate(api, cast.chantha, draft["id"])
    assert active["status"] == "active" and active["activatedAt"]
    doses = rows(settings.database_url, "SELECT * FROM doses ORDER BY due_at")
    # seven days of TID, less what was already due today; none for the as-needed inhaler
    assert 18 <= len(doses) <= 21
    assert {dose["item_id"] for dose in doses} == {__import__("uuid").UUID(first["id"])}

    [email] = stored_emails(settings.database_url)
    assert email.row["template"] == "prescription_shared"
    assert email.to_address == cast.alice.person.email
    assert email.data["prescriptionUrl"].endswith(f"/prescriptions/{draft['id']}")
    assert email.data["doctorName"] == cast.chantha.person.name
    notices = await api.get("/api/v1/notifications", headers=cast.alice.headers)
    [notice] = notices.json()["items"]
    assert notice["type"] == "prescription.updated"
    assert notice["data"] == {"prescriptionId": draft["id"], "status": "active"}

    read = await api.get(f"{PRESCRIPTIONS}/{draft['id']}", headers=cast.alice.headers)
    assert read.status_code == 200 and read.json()["items"] == active["items"]
    listed = await api.get(
        PRESCRIPTIONS, params={"patientId": str(cast.alice.id)}, headers=cast.chantha.headers
    )
    assert [p["id"] for p in listed.json()["items"]] == [draft["id"]]
    history = await api.get(f"{PRESCRIPTIONS}/{draft['id']}/history", headers=cast.alice.headers)
    assert [(e["action"], e["toStatus"]) for e in history.json()["events"]] == [
        ("create", "draft"),
        ("activate", "active"),
    ]
    assert {e["action"] for e in audit_events(settings.database_url)} >= {
        "prescription.create",
        "prescription.activate",
        "prescription.read",
    }


async def test_item_details_are_sealed_at_rest(api, cast, drugs, settings) -> None:
    draft = await prescribe(api, cast.chantha, cast.alice, item(drugs["amoxicillin"]))
    [row] = rows(settings.database_url, "SELECT t::text AS text FROM prescription_items t")
    for secret in (drugs["amoxicillin"], "Finish the course", "TID", "500 mg"):
        assert secret not in row["text"]
    assert draft["items"][0]["instructions"] == "Finish the course."


async def test_a_bad_item_is_a_422_naming_it_and_nothing_is_kept(
    api, cast, drugs, settings
) -> None:
    cases = [
        (item(drugs["paracetamol"], strength="500 mg", frequency="thrice hourly"), "frequency"),
        (item(drugs["paracetamol"], strength="20 mg"), "strength"),
        (item(drugs["paracetamol"], strength="500 mg", doseAmount="0"), "doseAmount"),
        (item(drugs["paracetamol"], strength="500 mg", endDate=today()), "items[1]"),
        (item("6f1d1f4e-0000-4000-8000-000000000000", strength="500 mg"), "medicineId"),
    ]
    for bad, named in cases:
        response = await api.post(
            PRESCRIPTIONS,
            json={"patientId": str(cast.alice.id), "items": [item(drugs["amoxicillin"]), bad]},
            headers=cast.chantha.headers,
        )
        body = assert_problem(response, 422)
        [error] = body["errors"]
        assert error["field"].startswith("items[1]") and named in error["field"] + body["detail"]
    assert rows(settings.database_url, "SELECT count(*) AS n FROM prescriptions")[0]["n"] == 0


async def test_who_may_write_and_read(api, cast, drugs) -> None:
    body = {"patientId": str(cast.alice.id), "items": [item(drugs["amoxicillin"])]}
    assert_problem(await api.post(PRESCRIPTIONS, json=body, headers=cast.dararith.headers), 404)
    assert_problem(await api.post(PRESCRIPTIONS, json=body, headers=cast.alice.headers), 403)
    draft = await prescribe(api, cast.chantha, cast.alice, item(drugs["amoxicillin"]))
    url = f"{PRESCRIPTIONS}/{draft['id']}"
    for stranger in (cast.borey, cast.dararith):
        assert_problem(await api.get(url, headers=stranger.headers), 404)
    # another doctor connected to the patient reads, but only the prescriber writes
    await connect_dararith(api, cast)
    assert (await api.get(url, headers=cast.dararith.headers)).status_code == 200
    assert_problem(await api.post(f"{url}/activate", headers=cast.dararith.headers), 404)
    # the patient writes only her own records of paper prescriptions: not her doctor's
    assert_problem(await api.post(f"{url}/activate", headers=cast.alice.headers), 404)


async def connect_dararith(api, cast) -> None:
    asked = await api.post(
        "/api/v1/connections", json={"doctorId": str(cast.dararith.id)}, headers=cast.alice.headers
    )
    accepted = await api.post(
        f"/api/v1/connections/{asked.json()['id']}/accept", headers=cast.dararith.headers
    )
    assert accepted.status_code == 200, accepted.text


async def test_only_a_draft_is_edited_and_the_lifecycle_is_kept(api, cast, drugs, settings) -> None:
    draft = await prescribe(api, cast.chantha, cast.alice, item(drugs["amoxicillin"]))
    url = f"{PRESCRIPTIONS}/{draft['id']}"
    edited = await api.patch(
        url,
        json={"items": [item(drugs["amoxicillin"], frequency="1-0-1", durationDays=5)]},
        headers=cast.chantha.headers,
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["items"][0]["schedule"]["notation"] == "1-0-1"
    await activate(api, cast.chantha, draft["id"])
    again = await api.patch(
        url, json={"items": [item(drugs["amoxicillin"])]}, headers=cast.chantha.headers
    )
    assert_problem(again, 409)
    assert_problem(await api.post(f"{url}/activate", headers=cast.chantha.headers), 409)

    completed = await api.post(f"{url}/complete", headers=cast.chantha.headers)
    assert completed.status_code == 200 and completed.json()["status"] == "completed"
    left = rows(
        settings.database_url,
        "SELECT count(*) AS n FROM doses WHERE status = 'scheduled' AND due_at > now()",
    )
    assert left[0]["n"] == 0
    assert_problem(await api.post(f"{url}/cancel", headers=cast.chantha.headers), 409)
    history = await api.get(f"{url}/history", headers=cast.chantha.headers)
    assert [e["action"] for e in history.json()["events"]] == [
        "create",
        "edit",
        "activate",
        "complete",
    ]


async def test_an_interaction_with_an_active_medicine_is_reported(api, cast, drugs) -> None:
    admin = cast.eang.headers
    recorded = await api.put(
        f"/api/v1/medicines/{drugs['warfarin']}/interactions",
        json={"otherId": drugs["ibuprofen"], "severity": "major", "note": "Bleeding risk."},
        headers=admin,
    )
    assert recorded.status_code == 200, recorded.text
    warfarin = item(drugs["warfarin"], strength="5 mg", doseForm="tablet", frequency="OD")
    first = await prescribe(api, cast.chantha, cast.alice, warfarin)
    await activate(api, cast.chantha, first["id"])

    ibuprofen = item(drugs["ibuprofen"], strength="400 mg", doseForm="tablet")
    second = await prescribe(api, cast.chantha, cast.alice, ibuprofen)
    assert second["warnings"] == [
        {
            "medicineId": drugs["ibuprofen"],
            "interactsWith": drugs["warfarin"],
            "severity": "major",
            "note": "Bleeding risk.",
        }
    ]
    # another patient taking warfarin is no concern of Alice's prescription
    other = await prescribe(api, cast.chantha, cast.alice, item(drugs["amoxicillin"]))
    assert other["warnings"] == []


async def test_the_expiry_job_expires_what_has_ended(api, cast, drugs, services, settings) -> None:
    from domain.prescriptions.lifecycle import expire_ended
    from tests.support.platform import wired

    draft = await prescribe(api, cast.chantha, cast.alice, item(drugs["amoxicillin"]))
    await activate(api, cast.chantha, draft["id"])
    rows(
        settings.database_url,
        "UPDATE prescriptions SET ends_on = current_date - 2 RETURNING id",
    )
    expired = await wired(services)(expire_ended)()
    assert expired == 1
    [row] = rows(settings.database_url, "SELECT status FROM prescriptions")
    assert row["status"] == "expired"
    assert (await wired(services)(expire_ended)()) == 0
    events = rows(settings.database_url, "SELECT action, actor_id FROM prescription_events")
    assert {"action": "expire", "actor_id": "system"} in events
    _ = timedelta
