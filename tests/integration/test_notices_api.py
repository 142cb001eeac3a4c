"""In-app notices over HTTP: a connection request reaches the doctor's list; each user reads
and marks only their own; the fields are sealed at rest; e-mail preferences round-trip."""

from __future__ import annotations

import uuid

import pytest

from tests.support.api import api_client, assert_problem
from tests.support.rows import rows
from tests.support.users import add_cast

NOTICES = "/api/v1/notifications"


@pytest.fixture
async def api(settings):
    async with api_client(settings) as client:
        yield client


@pytest.fixture
async def cast(services):
    return await add_cast(services)


async def request_connection(api, patient, doctor) -> str:
    response = await api.post(
        "/api/v1/connections", json={"doctorId": str(doctor.id)}, headers=patient.headers
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def test_a_request_is_a_notice_the_doctor_lists_counts_and_reads(api, cast) -> None:
    connection_id = await request_connection(api, cast.alice, cast.chantha)
    doctor = cast.chantha.headers

    listed = (await api.get(NOTICES, headers=doctor)).json()
    [notice] = listed["items"]
    assert notice["type"] == "connection.request"
    assert notice["data"] == {"connectionId": connection_id}
    assert notice["readAt"] is None and notice["eventId"] >= 1
    assert (await api.get(f"{NOTICES}/unread-count", headers=doctor)).json() == {"unread": 1}

    read = await api.post(f"{NOTICES}/{notice['id']}/read", headers=doctor)
    assert read.status_code == 200 and read.json()["readAt"] is not None
    assert (await api.get(f"{NOTICES}/unread-count", headers=doctor)).json() == {"unread": 0}
    unread_only = await api.get(NOTICES, params={"unread": "true"}, headers=doctor)
    assert unread_only.json()["items"] == []


async def test_someone_elses_notice_is_a_missing_one(api, cast) -> None:
    await request_connection(api, cast.alice, cast.chantha)
    [notice] = (await api.get(NOTICES, headers=cast.chantha.headers)).json()["items"]

    other = await api.post(f"{NOTICES}/{notice['id']}/read", headers=cast.dararith.headers)
    missing = await api.post(f"{NOTICES}/{uuid.uuid4()}/read", headers=cast.dararith.headers)

    assert assert_problem(other, 404)["detail"] == assert_problem(missing, 404)["detail"]
    assert (await api.get(NOTICES, headers=cast.dararith.headers)).json()["items"] == []


async def test_notice_fields_are_sealed_at_rest(api, cast, settings) -> None:
    connection_id = await request_connection(api, cast.alice, cast.chantha)
    [row] = rows(settings.database_url, "SELECT * FROM notices")
    assert connection_id.encode() not in bytes(row["data_sealed"])
    assert row["data_key_id"] == settings.phi_active_key_id


async def test_pages_run_newest_first_and_read_all_marks_the_rest(api, cast) -> None:
    for patient in (cast.alice, cast.borey):
        await request_connection(api, patient, cast.chantha)
    doctor = cast.chantha.headers
    first = (await api.get(NOTICES, params={"limit": 1}, headers=doctor)).json()
    second = (
        await api.get(NOTICES, params={"limit": 1, "cursor": first["nextCursor"]}, headers=doctor)
    ).json()
    assert first["items"][0]["eventId"] > second["items"][0]["eventId"]
    assert second["nextCursor"] is None

    marked = await api.post(f"{NOTICES}/read-all", headers=doctor)
    assert marked.json() == {"marked": 2}


async def test_email_preferences_round_trip_and_refuse_unknown_kinds(api, cast) -> None:
    mine = cast.alice.headers
    chosen = await api.put(
        f"{NOTICES}/preferences",
        json={"preferences": [{"kind": "dose.reminder", "email": True}]},
        headers=mine,
    )
    assert chosen.status_code == 200
    by_kind = {p["kind"]: p["email"] for p in chosen.json()["preferences"]}
    assert by_kind["dose.reminder"] is True and by_kind["health.alert"] is False
    again = (await api.get(f"{NOTICES}/preferences", headers=mine)).json()
    assert again == chosen.json()
    refused = await api.put(
        f"{NOTICES}/preferences",
        json={"preferences": [{"kind": "no.such.kind", "email": True}]},
        headers=mine,
    )
    assert refused.status_code in (400, 422)
