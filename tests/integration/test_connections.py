"""Doctor-patient connections through the API: request, answer, invite, expire, revoke, list."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from domain.connections.model import invitation_digest
from tests.support.api import api_client, assert_problem, bearer
from tests.support.rows import audit_events, rows
from tests.support.users import add_cast, connect

CONNECTIONS = "/api/v1/connections"


@pytest.fixture
async def api(settings):
    async with api_client(settings) as client:
        yield client


@pytest.fixture
async def cast(services):
    return await add_cast(services)


def stored(database_url: str, connection_id: str) -> dict:
    [row] = rows(database_url, "SELECT * FROM connections WHERE id = %s", (connection_id,))
    return row


def count(database_url: str, table: str) -> int:
    return rows(database_url, f"SELECT count(*) AS n FROM {table}")[0]["n"]


def lapse(database_url: str, connection_id: str) -> None:
    """Move a pending connection's expiry into the past, as if a week had gone by."""
    rows(
        database_url,
        "UPDATE connections SET expires_at = now() - interval '1 minute' WHERE id = %s "
        "RETURNING id",
        (connection_id,),
    )


async def request(api, patient, doctor_id) -> dict:
    response = await api.post(
        CONNECTIONS, json={"doctorId": str(doctor_id)}, headers=patient.headers
    )
    assert response.status_code == 201, response.text
    return response.json()


async def invite(api, doctor, **body) -> dict:
    response = await api.post(
        f"{CONNECTIONS}/invitations", json=body or None, headers=doctor.headers
    )
    assert response.status_code == 201, response.text
    return response.json()


# --- a patient's request ---------------------------------------------------------------------


async def test_a_patient_requests_and_the_doctor_accepts(api, cast, settings) -> None:
    before = datetime.now(UTC)
    body = await request(api, cast.alice, cast.chantha.id)

    assert body["status"] == "pending" and body["initiatedBy"] == "patient"
    assert body["patientId"] == str(cast.alice.id) and body["doctorId"] == str(cast.chantha.id)
    expires = datetime.fromisoformat(body["expiresAt"])
    assert before + timedelta(days=29) < expires < datetime.now(UTC) + timedelta(days=31)

    accepted = await api.post(f"{CONNECTIONS}/{body['id']}/accept", headers=cast.chantha.headers)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "active"
    assert stored(settings.database_url, body["id"])["status"] == "active"

    [requested] = audit_events(settings.database_url, "connection.request")
    assert requested["actor_id"] == str(cast.alice.id) and requested["resource_id"] == body["id"]
    assert requested["changed_fields"] == ["status", "patient_id", "doctor_id"]
    [answered] = audit_events(settings.database_url, "connection.accept")
    assert answered["actor_id"] == str(cast.chantha.id) and answered["actor_role"] == "doctor"
    assert answered["changed_fields"] == ["status"]


async def test_the_doctor_rejects_and_the_pair_may_try_again(api, cast, settings) -> None:
    first = await request(api, cast.alice, cast.chantha.id)
    rejected = await api.post(f"{CONNECTIONS}/{first['id']}/reject", headers=cast.chantha.headers)
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert audit_events(settings.database_url, "connection.reject")[0]["changed_fields"] == [
        "status"
    ]

    again = await request(api, cast.alice, cast.chantha.id)
    assert again["id"] != first["id"] and again["status"] == "pending"


@pytest.mark.parametrize("first_answer", [None, "accept"], ids=["pending", "active"])
async def test_a_second_live_connection_for_a_pair_is_a_conflict(
    api, cast, settings, first_answer
) -> None:
    first = await request(api, cast.alice, cast.chantha.id)
    if first_answer:
        await api.post(f"{CONNECTIONS}/{first['id']}/{first_answer}", headers=cast.chantha.headers)
    events = len(audit_events(settings.database_url))

    response = await api.post(
        CONNECTIONS, json={"doctorId": str(cast.chantha.id)}, headers=cast.alice.headers
    )

    assert assert_problem(response, 409)["code"] == "connection_exists"
    assert count(settings.database_url, "connections") == 1
    assert len(audit_events(settings.database_url)) == events


async def test_another_pair_is_independent(api, cast) -> None:
    await request(api, cast.alice, cast.chantha.id)
    await request(api, cast.alice, cast.dararith.id)
    await request(api, cast.borey, cast.chantha.id)


@pytest.mark.parametrize("target", ["patient", "admin", "missing"])
async def test_only_an_active_doctor_can_be_asked(api, cast, services, settings, target) -> None:
    doctor_id = {"patient": cast.borey.id, "admin": cast.eang.id, "missing": uuid.uuid4()}[target]
    response = await api.post(
        CONNECTIONS, json={"doctorId": str(doctor_id)}, headers=cast.alice.headers
    )
    assert assert_problem(response, 404)["detail"] == "doctor not found"
    assert count(settings.database_url, "connections") == 0


async def test_a_disabled_doctor_cannot_be_asked(api, cast, settings) -> None:
    rows(settings.database_url, "UPDATE users SET status = 'disabled' WHERE id = %s RETURNING id",
         (cast.dararith.id,))  # fmt: skip
    response = await api.post(
        CONNECTIONS, json={"doctorId": str(cast.dararith.id)}, headers=cast.alice.headers
    )
    assert_problem(response, 404)


async def test_nobody_answers_their_own_request(api, cast) -> None:
    body = await request(api, cast.alice, cast.chantha.id)
    # the patient's role may not accept at all (403); another doctor is no party (404)
    assert_problem(
        await api.post(f"{CONNECTIONS}/{body['id']}/accept", headers=cast.alice.headers), 403
    )
    other = await api.post(f"{CONNECTIONS}/{body['id']}/accept", headers=cast.dararith.headers)
    missing = await api.post(f"{CONNECTIONS}/{uuid.uuid4()}/accept", headers=cast.dararith.headers)
    assert assert_problem(other, 404) == assert_problem(missing, 404)


async def test_an_answered_request_cannot_be_answered_again(api, cast) -> None:
    body = await request(api, cast.alice, cast.chantha.id)
    await api.post(f"{CONNECTIONS}/{body['id']}/reject", headers=cast.chantha.headers)
    again = await api.post(f"{CONNECTIONS}/{body['id']}/accept", headers=cast.chantha.headers)
    assert assert_problem(again, 409)["code"] == "invalid_transition"


# --- expiry ------------------------------------------------------------------------------------


async def test_a_lapsed_request_cannot_be_accepted_and_lists_as_expired(
    api, cast, settings
) -> None:
    body = await request(api, cast.alice, cast.chantha.id)
    lapse(settings.database_url, body["id"])

    response = await api.post(f"{CONNECTIONS}/{body['id']}/accept", headers=cast.chantha.headers)

    assert assert_problem(response, 409)["code"] == "connection_expired"
    assert stored(settings.database_url, body["id"])["status"] == "pending"
    listed = (await api.get(CONNECTIONS, headers=cast.alice.headers)).json()["items"]
    assert [item["status"] for item in listed] == ["expired"]
    by_status = await api.get(CONNECTIONS, params={"status": "pending"}, headers=cast.alice.headers)
    assert by_status.json()["items"] == []
    expired = await api.get(CONNECTIONS, params={"status": "expired"}, headers=cast.alice.headers)
    assert [item["id"] for item in expired.json()["items"]] == [body["id"]]


async def test_a_lapsed_request_frees_the_pair(api, cast, settings) -> None:
    old = await request(api, cast.alice, cast.chantha.id)
    lapse(settings.database_url, old["id"])

    new = await request(api, cast.alice, cast.chantha.id)

    assert new["id"] != old["id"]
    assert stored(settings.database_url, old["id"])["status"] == "expired"
    [expiry] = audit_events(settings.database_url, "connection.expire")
    assert expiry["resource_id"] == old["id"] and expiry["changed_fields"] == ["status"]


# --- a doctor's invitation ---------------------------------------------------------------------


async def test_a_doctor_invites_and_the_patient_accepts_with_the_token(api, cast, settings) -> None:
    before = datetime.now(UTC)
    created = await invite(api, cast.chantha)

    assert set(created) == {"connectionId", "token", "expiresAt"}
    expires = datetime.fromisoformat(created["expiresAt"])
    assert before + timedelta(days=7) <= expires <= datetime.now(UTC) + timedelta(days=7)
    row = stored(settings.database_url, created["connectionId"])
    assert row["status"] == "pending" and row["patient_id"] is None
    assert row["initiated_by"] == "doctor"
    assert bytes(row["invitation_hash"]) == invitation_digest(created["token"])
    assert created["token"].encode() not in bytes(row["invitation_hash"])

    response = await api.post(
        f"{CONNECTIONS}/invitations/accept",
        json={"token": created["token"]},
        headers=cast.alice.headers,
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == created["connectionId"] and body["status"] == "active"
    assert body["patientId"] == str(cast.alice.id) and body["initiatedBy"] == "doctor"
    [invited] = audit_events(settings.database_url, "connection.invite")
    assert invited["actor_id"] == str(cast.chantha.id)
    [accepted] = audit_events(settings.database_url, "connection.accept_invitation")
    assert accepted["actor_id"] == str(cast.alice.id)
    assert accepted["changed_fields"] == ["status", "patient_id"]
    for event in audit_events(settings.database_url):
        assert created["token"] not in str(event)


async def test_an_invitation_is_used_once(api, cast) -> None:
    created = await invite(api, cast.chantha)
    accept = {"token": created["token"]}
    first = await api.post(
        f"{CONNECTIONS}/invitations/accept", json=accept, headers=cast.alice.headers
    )
    assert first.status_code == 200
    second = await api.post(
        f"{CONNECTIONS}/invitations/accept", json=accept, headers=cast.borey.headers
    )
    assert assert_problem(second, 409)["code"] == "invalid_transition"


async def test_an_unknown_token_is_a_404(api, cast) -> None:
    response = await api.post(
        f"{CONNECTIONS}/invitations/accept", json={"token": "x" * 43}, headers=cast.alice.headers
    )
    assert assert_problem(response, 404)["detail"] == "invitation not found"


async def test_a_lapsed_invitation_cannot_be_accepted(api, cast, settings) -> None:
    created = await invite(api, cast.chantha)
    lapse(settings.database_url, created["connectionId"])
    response = await api.post(
        f"{CONNECTIONS}/invitations/accept",
        json={"token": created["token"]},
        headers=cast.alice.headers,
    )
    assert assert_problem(response, 409)["code"] == "connection_expired"
    assert stored(settings.database_url, created["connectionId"])["patient_id"] is None


async def test_an_invitation_may_live_shorter(api, cast) -> None:
    before = datetime.now(UTC)
    created = await invite(api, cast.chantha, expiresInHours=2)
    expires = datetime.fromisoformat(created["expiresAt"])
    assert before + timedelta(hours=2) <= expires <= datetime.now(UTC) + timedelta(hours=2)


@pytest.mark.parametrize("hours", [0, 24 * 30 + 1, "soon"])
async def test_an_invitation_lifetime_out_of_bounds_is_a_400(api, cast, settings, hours) -> None:
    response = await api.post(
        f"{CONNECTIONS}/invitations", json={"expiresInHours": hours}, headers=cast.chantha.headers
    )
    assert_problem(response, 400)
    assert count(settings.database_url, "connections") == 0


async def test_an_invitation_into_an_active_pair_is_a_conflict(api, services, cast) -> None:
    await connect(services, cast.alice.id, cast.chantha.id)
    created = await invite(api, cast.chantha)
    response = await api.post(
        f"{CONNECTIONS}/invitations/accept",
        json={"token": created["token"]},
        headers=cast.alice.headers,
    )
    assert assert_problem(response, 409)["code"] == "connection_exists"


async def test_the_inviting_doctor_cannot_accept_their_own_invitation(api, cast) -> None:
    created = await invite(api, cast.chantha)
    response = await api.post(
        f"{CONNECTIONS}/{created['connectionId']}/accept", headers=cast.chantha.headers
    )
    assert assert_problem(response, 409)["code"] == "not_the_answering_side"


# --- revocation --------------------------------------------------------------------------------


@pytest.mark.parametrize("party", ["alice", "chantha"])
async def test_either_party_revokes_an_active_connection(
    api, services, cast, settings, party
) -> None:
    connection_id = await connect(services, cast.alice.id, cast.chantha.id)
    response = await api.post(
        f"{CONNECTIONS}/{connection_id}/revoke", headers=getattr(cast, party).headers
    )
    assert response.status_code == 200 and response.json()["status"] == "revoked"
    [revoked] = audit_events(settings.database_url, "connection.revoke")
    assert revoked["actor_id"] == str(getattr(cast, party).id)

    again = await api.post(f"{CONNECTIONS}/{connection_id}/revoke", headers=cast.alice.headers)
    assert assert_problem(again, 409)["code"] == "invalid_transition"
    # and the pair may connect again later
    await request(api, cast.alice, cast.chantha.id)


async def test_a_pending_request_cannot_be_revoked(api, cast) -> None:
    body = await request(api, cast.alice, cast.chantha.id)
    response = await api.post(f"{CONNECTIONS}/{body['id']}/revoke", headers=cast.alice.headers)
    assert_problem(response, 409)


async def test_an_outsider_cannot_revoke(api, services, cast, settings) -> None:
    connection_id = await connect(services, cast.alice.id, cast.chantha.id)
    for outsider in (cast.borey, cast.dararith):
        response = await api.post(f"{CONNECTIONS}/{connection_id}/revoke", headers=outsider.headers)
        assert_problem(response, 404)
    assert_problem(
        await api.post(f"{CONNECTIONS}/{connection_id}/revoke", headers=cast.eang.headers), 403
    )
    assert stored(settings.database_url, str(connection_id))["status"] == "active"


# --- listing -----------------------------------------------------------------------------------


async def test_each_party_lists_their_own_with_names(api, services, cast, settings) -> None:
    mine = await request(api, cast.alice, cast.chantha.id)
    await request(api, cast.borey, cast.dararith.id)

    for member in (cast.alice, cast.chantha):
        body = (await api.get(CONNECTIONS, headers=member.headers)).json()
        assert [item["id"] for item in body["items"]] == [mine["id"]]
        item = body["items"][0]
        assert item["doctorName"] == cast.chantha.person.name
        assert item["patientName"] == cast.alice.person.name
    assert [
        event["actor_id"] for event in audit_events(settings.database_url, "connection.list")
    ] == [
        str(cast.alice.id),
        str(cast.chantha.id),
    ]


async def test_an_admin_lists_everyone_and_filters_by_party(api, cast) -> None:
    alices = await request(api, cast.alice, cast.chantha.id)
    boreys = await request(api, cast.borey, cast.dararith.id)
    everything = (await api.get(CONNECTIONS, headers=cast.eang.headers)).json()["items"]
    assert {item["id"] for item in everything} == {alices["id"], boreys["id"]}

    for params, expected in (
        ({"patientId": str(cast.borey.id)}, [boreys["id"]]),
        ({"doctorId": str(cast.chantha.id)}, [alices["id"]]),
        ({"status": "active"}, []),
    ):
        body = (await api.get(CONNECTIONS, params=params, headers=cast.eang.headers)).json()
        assert [item["id"] for item in body["items"]] == expected, params


async def test_pages_walk_every_connection_once(api, services, cast) -> None:
    for doctor in (cast.chantha, cast.dararith):
        await request(api, cast.alice, doctor.id)
    await connect(services, cast.borey.id, cast.chantha.id)
    seen: list[str] = []
    params: dict = {"limit": 2}
    while True:
        body = (await api.get(CONNECTIONS, params=params, headers=cast.chantha.headers)).json()
        seen += [item["id"] for item in body["items"]]
        if body["nextCursor"] is None:
            break
        params["cursor"] = body["nextCursor"]
    assert len(seen) == len(set(seen)) == 2


@pytest.mark.parametrize(
    "params",
    [{"status": "bogus"}, {"limit": 0}, {"patientId": "nope"}],
    ids=["status", "limit", "patient-id"],
)
async def test_bad_list_parameters_are_a_400(api, cast, params) -> None:
    assert_problem(await api.get(CONNECTIONS, params=params, headers=cast.alice.headers), 400)


@pytest.mark.parametrize(
    "body",
    [{}, {"doctorId": "not-a-uuid"}, {"doctorId": str(uuid.uuid4()), "extra": 1}, []],
    ids=["empty", "not-uuid", "unknown-field", "not-object"],
)
async def test_a_malformed_request_is_a_400_and_writes_nothing(api, cast, settings, body) -> None:
    response = await api.post(CONNECTIONS, json=body, headers=cast.alice.headers)
    assert_problem(response, 400)
    assert count(settings.database_url, "connections") == 0
    assert audit_events(settings.database_url) == []


async def test_a_token_for_no_account_cannot_connect(api, cast) -> None:
    response = await api.post(
        CONNECTIONS, json={"doctorId": str(cast.chantha.id)}, headers=bearer("alice", "patient")
    )
    assert_problem(response, 403)
