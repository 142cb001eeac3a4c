"""Adherence through the API and the workers: doses marked by the patient, missed by the job,
rolled up by the roll-up job; read with a trend; the doctor's dashboard; alerts from streaks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.adherence.rollup import roll_up_adherence
from domain.doses.jobs import mark_missed_doses
from tests.support.api import api_client, assert_problem, noop_job
from tests.support.medicines import seeded_medicine
from tests.support.platform import wired
from tests.support.rows import audit_events, rows
from tests.support.users import add_cast, connect

DASHBOARD = "/api/v1/dashboard/patients"


@pytest.fixture
async def api(settings):
    async with api_client(settings) as client:
        yield client


@pytest.fixture
async def cast(services):
    everyone = await add_cast(services)
    await connect(services, everyone.alice.id, everyone.chantha.id)
    await connect(services, everyone.borey.id, everyone.chantha.id)
    return everyone


def days_ago(days: int) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).date().isoformat()


async def active_prescription(api, services, doctor, patient) -> str:
    medicine = await seeded_medicine(services, "amoxicillin", "capsule")
    item = {
        "medicineId": medicine,
        "strength": "500 mg",
        "doseAmount": "1",
        "doseForm": "capsule",
        "frequency": "TID",
        "startDate": days_ago(0),
        "durationDays": 10,
    }
    made = await api.post(
        "/api/v1/prescriptions",
        json={"patientId": str(patient.id), "items": [item]},
        headers=doctor.headers,
    )
    assert made.status_code == 201, made.text
    activated = await api.post(
        f"/api/v1/prescriptions/{made.json()['id']}/activate", headers=doctor.headers
    )
    assert activated.status_code == 200, activated.text
    # Five days go by: the doses made from today on fall due in the past.
    rows(
        services.settings.database_url,
        "UPDATE doses SET due_at = due_at - interval '5 days', local_date = local_date - 5 "
        "RETURNING id",
    )
    return made.json()["id"]


async def past_doses(api, patient, grace_minutes: int) -> list[dict]:
    """The doses already past their grace: the ones ``mark_missed_doses`` settles if not taken
    (a dose due less than the grace ago is still open, whatever the hour the test runs at)."""
    listed = await api.get(
        f"/api/v1/patients/{patient.id}/doses",
        params={"from": (datetime.now(UTC) - timedelta(days=6)).isoformat()},
        headers=patient.headers,
    )
    assert listed.status_code == 200, listed.text
    now = datetime.now(UTC)
    return [
        dose
        for dose in listed.json()["items"]
        if datetime.fromisoformat(dose["dueAt"])
        < now - timedelta(minutes=grace_minutes, seconds=30)
    ]


async def roll_up(services) -> dict:
    job = await noop_job(services, "system")
    return await wired(services)(roll_up_adherence)(job)


async def test_a_patients_adherence_follows_their_doses(api, services, cast, settings) -> None:
    alice, chantha = cast.alice, cast.chantha
    prescription = await active_prescription(api, services, chantha, alice)
    doses = await past_doses(api, alice, settings.dose_grace_minutes)
    assert len(doses) >= 9  # TID for the days before today
    taken, skipped = doses[:4], doses[4:5]
    for dose in taken:
        answer = await api.post(
            f"/api/v1/doses/{dose['id']}/taken",
            json={"takenAt": dose["dueAt"]},
            headers=alice.headers,
        )
        assert answer.status_code == 200, answer.text
    answer = await api.post(
        f"/api/v1/doses/{skipped[0]['id']}/skipped",
        json={"reason": "felt sick"},
        headers=alice.headers,
    )
    assert answer.status_code == 200, answer.text
    missed = await wired(services)(mark_missed_doses)(await noop_job(services, "system"))
    assert missed["missed"] >= len(doses) - 5

    report = await roll_up(services)
    assert report["windowsRecomputed"] >= 4 and report["patients"] == 1

    settled = rows(
        settings.database_url,
        "SELECT status, count(*)::int AS n FROM doses WHERE status <> 'scheduled' GROUP BY status",
    )
    counts = {row["status"]: row["n"] for row in settled}
    read = await api.get(
        f"/api/v1/patients/{alice.id}/adherence",
        params={"from": days_ago(6), "to": days_ago(0), "granularity": "week"},
        headers=alice.headers,
    )
    assert read.status_code == 200, read.text
    body = read.json()
    total = body["total"]
    assert total["taken"] == counts["taken"] == 4
    assert total["skipped"] == counts["skipped"] == 1
    assert total["missed"] == counts["missed"]
    assert total["due"] == sum(counts.values())
    assert total["adherence"] == round(4 / total["due"], 4)
    assert 0 <= total["pdc"] <= 1 and total["adherent"] is False
    assert sum(bucket["tally"]["due"] for bucket in body["buckets"]) == total["due"]
    assert body["trend"]["direction"] == "unknown"  # nothing was due the period before

    # One prescription's figures, by its connected doctor; the same for this one-item patient
    by_doctor = await api.get(
        f"/api/v1/patients/{alice.id}/adherence",
        params={"from": days_ago(6), "prescriptionId": prescription},
        headers=chantha.headers,
    )
    assert by_doctor.status_code == 200 and by_doctor.json()["total"] == total
    # A doctor who is not connected, and another patient, learn nothing
    for stranger in (cast.dararith, cast.borey):
        refused = await api.get(f"/api/v1/patients/{alice.id}/adherence", headers=stranger.headers)
        assert_problem(refused, 404)
    reads = audit_events(settings.database_url, action="adherence.read")
    assert len(reads) == 2


async def test_a_streak_of_missed_doses_raises_one_alert(api, services, cast, settings) -> None:
    await active_prescription(api, services, cast.chantha, cast.alice)
    await wired(services)(mark_missed_doses)(await noop_job(services, "system"))
    first = await roll_up(services)
    assert first["alertsRaised"] == 2  # a missed streak, and a week below 50 %
    alerts = rows(
        settings.database_url,
        "SELECT rule, severity, status FROM health_alerts ORDER BY rule",
    )
    assert [(a["rule"], a["severity"]) for a in alerts] == [
        ("adherence.low", "HIGH"),
        ("adherence.missed_doses", "HIGH"),
    ]
    notices = rows(settings.database_url, "SELECT user_id FROM notices WHERE kind = 'health.alert'")
    assert {row["user_id"] for row in notices} == {cast.alice.id, cast.chantha.id}
    # More changes later: the open alerts are updated, not repeated
    rows(settings.database_url, "UPDATE doses SET late = true WHERE status = 'missed' RETURNING id")
    assert (await roll_up(services))["alertsRaised"] == 0
    assert len(rows(settings.database_url, "SELECT id FROM health_alerts")) == 2


async def test_the_dashboard_lists_connected_patients_riskiest_first(
    api, services, cast, settings
) -> None:
    await active_prescription(api, services, cast.chantha, cast.alice)
    await wired(services)(mark_missed_doses)(await noop_job(services, "system"))
    await roll_up(services)
    chantha = cast.chantha

    first = await api.get(DASHBOARD, params={"limit": 1}, headers=chantha.headers)
    assert first.status_code == 200, first.text
    page = first.json()
    [riskiest] = page["items"]
    assert riskiest["patientId"] == str(cast.alice.id)
    assert riskiest["last30Days"]["adherence"] == 0 and riskiest["openAlerts"] == 2
    assert riskiest["topSeverity"] == "HIGH"
    second = await api.get(
        DASHBOARD,
        params={"limit": 1, "cursor": page["nextCursor"]},
        headers=chantha.headers,
    )
    [calm] = second.json()["items"]
    assert calm["patientId"] == str(cast.borey.id)  # nothing due: after every real figure
    assert calm["last30Days"]["adherence"] is None and second.json()["nextCursor"] is None

    other = await api.get(DASHBOARD, headers=cast.dararith.headers)
    assert other.json() == {"items": [], "nextCursor": None}
    assert_problem(await api.get(DASHBOARD, headers=cast.alice.headers), 403)
    assert_problem(
        await api.get(DASHBOARD, params={"cursor": "x"}, headers=chantha.headers),
        422,
    )


async def test_a_bad_period_is_refused_and_changes_nothing(api, cast, settings) -> None:
    alice = cast.alice
    backwards = await api.get(
        f"/api/v1/patients/{alice.id}/adherence",
        params={"from": days_ago(1), "to": days_ago(3)},
        headers=alice.headers,
    )
    assert assert_problem(backwards, 422)["code"] == "bad_period"
    too_long = await api.get(
        f"/api/v1/patients/{alice.id}/adherence",
        params={"from": days_ago(800), "to": days_ago(0)},
        headers=alice.headers,
    )
    assert_problem(too_long, 422)
    assert_problem(
        await api.get(
            f"/api/v1/patients/{alice.id}/adherence",
            params={"granularity": "year"},
            headers=alice.headers,
        ),
        400,
    )
    assert audit_events(settings.database_url, action="adherence.read") == []
