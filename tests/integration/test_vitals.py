"""Vital signs through the API: recording, plausible ranges, sealing, listing, latest per type."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.support.api import api_client, assert_problem
from tests.support.rows import audit_events, rows
from tests.support.users import add_cast, connect


@pytest.fixture
async def api(settings):
    async with api_client(settings) as client:
        yield client


@pytest.fixture
async def cast(services):
    everyone = await add_cast(services)
    await connect(services, everyone.alice.id, everyone.chantha.id)
    return everyone


def vitals_of(patient) -> str:
    return f"/api/v1/patients/{patient.id}/vitals"


def at(minutes_ago: int) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes_ago)).isoformat()


async def record(api, who, patient, reading: dict, minutes_ago: int = 1) -> dict:
    response = await api.post(
        vitals_of(patient),
        json={"reading": reading, "measuredAt": at(minutes_ago)},
        headers=who.headers,
    )
    assert response.status_code == 201, response.text
    return response.json()


BP = {"type": "blood_pressure", "systolic": 128, "diastolic": 82}


async def test_the_patient_records_a_reading_sealed_at_rest(api, cast, settings) -> None:
    body = await record(api, cast.alice, cast.alice, BP)

    assert body["type"] == "blood_pressure" and body["reading"] == BP
    assert body["recorder"] == "patient" and body["recordedBy"] == str(cast.alice.id)
    [row] = rows(settings.database_url, "SELECT * FROM vital_readings")
    assert row["type"] == "blood_pressure" and row["patient_id"] == cast.alice.id
    assert b"128" not in bytes(row["measurement_sealed"])
    [event] = audit_events(settings.database_url, "vital.record")
    assert event["resource_id"] == body["id"] and event["actor_id"] == str(cast.alice.id)
    assert "measurement" in event["changed_fields"]


async def test_a_connected_doctor_records_for_their_patient(api, cast) -> None:
    body = await record(api, cast.chantha, cast.alice, {"type": "heart_rate", "bpm": 71})
    assert body["recorder"] == "doctor" and body["recordedBy"] == str(cast.chantha.id)


async def test_strangers_cannot_record_or_read(api, cast, settings) -> None:
    for who in (cast.dararith, cast.borey):
        response = await api.post(
            vitals_of(cast.alice),
            json={"reading": BP, "measuredAt": at(1)},
            headers=who.headers,
        )
        assert_problem(response, 404)
        assert_problem(await api.get(vitals_of(cast.alice), headers=who.headers), 404)
    assert rows(settings.database_url, "SELECT id FROM vital_readings") == []


@pytest.mark.parametrize(
    ("reading", "field"),
    [
        ({"type": "blood_pressure", "systolic": 900, "diastolic": 80}, "reading.systolic"),
        ({"type": "blood_pressure", "systolic": 120, "diastolic": 10}, "reading.diastolic"),
        ({"type": "blood_pressure", "systolic": 90, "diastolic": 120}, "reading.diastolic"),
        ({"type": "heart_rate", "bpm": 0}, "reading.bpm"),
        ({"type": "temperature", "celsius": 60.0}, "reading.celsius"),
        ({"type": "spo2", "percent": 120}, "reading.percent"),
        ({"type": "weight", "kg": 0}, "reading.kg"),
        ({"type": "height", "cm": 400}, "reading.cm"),
        (
            {"type": "blood_sugar", "value": 90, "unit": "mmol/L", "context": "fasting"},
            "reading.value",
        ),
        (
            {"type": "blood_sugar", "value": 2, "unit": "mg/dL", "context": "random"},
            "reading.value",
        ),
    ],
)
async def test_an_impossible_value_is_a_422_naming_the_field(
    api, cast, settings, reading, field
) -> None:
    response = await api.post(
        vitals_of(cast.alice),
        json={"reading": reading, "measuredAt": at(1)},
        headers=cast.alice.headers,
    )
    problem = assert_problem(response, 422)
    assert [error["field"] for error in problem["errors"]] == [field]
    assert rows(settings.database_url, "SELECT id FROM vital_readings") == []


async def test_a_reading_from_the_future_is_refused(api, cast) -> None:
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    response = await api.post(
        vitals_of(cast.alice),
        json={"reading": BP, "measuredAt": future},
        headers=cast.alice.headers,
    )
    assert [e["field"] for e in assert_problem(response, 422)["errors"]] == ["measuredAt"]


async def test_an_unknown_type_is_a_bad_request(api, cast) -> None:
    response = await api.post(
        vitals_of(cast.alice),
        json={"reading": {"type": "mood", "score": 3}, "measuredAt": at(1)},
        headers=cast.alice.headers,
    )
    assert_problem(response, 400)


async def test_listing_filters_by_type_and_period_and_pages(api, cast) -> None:
    for minutes in range(1, 8):  # seven pulse readings, a minute apart
        await record(
            api, cast.alice, cast.alice, {"type": "heart_rate", "bpm": 60 + minutes}, minutes
        )
    await record(api, cast.alice, cast.alice, BP, 3)
    url = vitals_of(cast.alice)

    seen, cursor = [], None
    while True:
        params = {"type": "heart_rate", "limit": 3} | ({"cursor": cursor} if cursor else {})
        page = (await api.get(url, params=params, headers=cast.chantha.headers)).json()
        seen += [item["reading"]["bpm"] for item in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == [61, 62, 63, 64, 65, 66, 67]  # newest measured first

    window = {"since": at(5), "until": at(2)}
    page = (await api.get(url, params=window, headers=cast.alice.headers)).json()
    assert sorted(item["type"] for item in page["items"]) == [
        "blood_pressure",
        "heart_rate",
        "heart_rate",
        "heart_rate",
    ]

    bad = await api.get(url, params={"cursor": "0.zz"}, headers=cast.alice.headers)
    assert bad.status_code in (400, 422)
    backwards = await api.get(
        url, params={"since": at(1), "until": at(5)}, headers=cast.alice.headers
    )
    assert [e["field"] for e in assert_problem(backwards, 422)["errors"]] == ["since"]


async def test_latest_gives_the_newest_of_each_type(api, cast, settings) -> None:
    await record(api, cast.alice, cast.alice, {"type": "heart_rate", "bpm": 90}, 10)
    await record(api, cast.alice, cast.alice, {"type": "heart_rate", "bpm": 70}, 2)
    await record(api, cast.alice, cast.alice, {"type": "spo2", "percent": 97}, 5)
    sugar = {"type": "blood_sugar", "value": 5.4, "unit": "mmol/L", "context": "fasting"}
    await record(api, cast.alice, cast.alice, sugar, 4)

    response = await api.get(f"{vitals_of(cast.alice)}/latest", headers=cast.chantha.headers)

    assert response.status_code == 200, response.text
    latest = {item["type"]: item["reading"] for item in response.json()["items"]}
    assert latest == {
        "heart_rate": {"type": "heart_rate", "bpm": 70},
        "spo2": {"type": "spo2", "percent": 97},
        "blood_sugar": sugar,
    }
    assert len(audit_events(settings.database_url, "vital.latest")) == 1
