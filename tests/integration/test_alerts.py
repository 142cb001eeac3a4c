"""Health alerts through the API and on the real database: readings that break a rule raise
one alert per patient and rule (no flood, even under concurrent posts), the patient and every
connected doctor are told (a doctor who is not connected sees nothing), alerts are read,
acknowledged and resolved (audited), and a connected doctor overrides a patient's rules."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from domain.alerts.model import Breach, Severity
from domain.alerts.raising import deliver, raise_alert
from domain.auditing import SYSTEM
from domain.connections.model import ConnectionStatus
from domain.errors import ValidationFailed
from tests.support.api import api_client, assert_problem
from tests.support.rows import audit_events, rows
from tests.support.users import add_cast, connect

ALERTS = "/api/v1/alerts"
CRISIS = {"type": "blood_pressure", "systolic": 186, "diastolic": 112}
STAGE_2 = {"type": "blood_pressure", "systolic": 146, "diastolic": 88}
NORMAL = {"type": "blood_pressure", "systolic": 118, "diastolic": 76}


@pytest.fixture
async def api(settings):
    async with api_client(settings) as client:
        yield client


@pytest.fixture
async def cast(services):
    """Alice is Chantha's patient and Dararith's too; Borey is nobody's."""
    everyone = await add_cast(services)
    await connect(services, everyone.alice.id, everyone.chantha.id)
    return everyone


def ago(**delta) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).isoformat()


async def post_reading(api, who, patient, reading: dict, measured_at: str | None = None):
    return await api.post(
        f"/api/v1/patients/{patient.id}/vitals",
        json={"reading": reading, "measuredAt": measured_at or ago(seconds=5)},
        headers=who.headers,
    )


async def record(api, who, patient, reading: dict, measured_at: str | None = None) -> dict:
    response = await post_reading(api, who, patient, reading, measured_at)
    assert response.status_code == 201, response.text
    return response.json()


def alert_rows(database_url: str) -> list[dict]:
    return rows(database_url, "SELECT * FROM health_alerts ORDER BY created_at")


def alert_notices(database_url: str, user_id: uuid.UUID) -> int:
    return rows(
        database_url,
        "SELECT count(*) AS n FROM notices WHERE user_id = %s AND kind = 'health.alert'",
        (user_id,),
    )[0]["n"]


async def inbox(api, who, **params) -> list[dict]:
    response = await api.get(ALERTS, params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]


# --- raising ---------------------------------------------------------------------------------


async def test_a_crisis_reading_alerts_the_patient_and_connected_doctors_only(
    api, cast, services, settings
) -> None:
    await connect(services, cast.alice.id, cast.dararith.id)
    await connect(services, cast.borey.id, cast.dararith.id, status=ConnectionStatus.PENDING)
    await record(api, cast.alice, cast.alice, CRISIS)

    [alert] = alert_rows(settings.database_url)
    assert (alert["rule"], alert["severity"], alert["summary_code"], alert["status"]) == (
        "blood_pressure.high",
        "CRITICAL",
        "hypertensive_crisis",
        "open",
    )
    for member in (cast.alice, cast.chantha, cast.dararith):
        assert alert_notices(settings.database_url, member.id) == 1
        [seen] = await inbox(api, member)
        assert seen["id"] == str(alert["id"]) and seen["readAt"] is None
    assert alert_notices(settings.database_url, cast.borey.id) == 0
    [raised] = audit_events(settings.database_url, "alert.raise")
    assert raised["actor_id"] == str(cast.alice.id) and raised["resource_id"] == str(alert["id"])
    # the notice names codes and ids, never the reading
    listed = (await api.get("/api/v1/notifications", headers=cast.chantha.headers)).json()
    [notice] = [n for n in listed["items"] if n["type"] == "health.alert"]
    data = notice["data"]
    ids = {"alertId", "patientId"}
    assert set(data) == ids | {"rule", "severity", "summaryCode", "escalated"}
    assert data["severity"] == "CRITICAL" and data["alertId"] == str(alert["id"])
    # an id is random hex and may hold "186" by chance; nothing else may
    assert not any("186" in str(v) or "112" in str(v) for k, v in data.items() if k not in ids)


async def test_a_doctor_who_is_not_connected_sees_nothing(api, cast, services, settings) -> None:
    ended = await connect(services, cast.alice.id, cast.dararith.id)
    await record(api, cast.alice, cast.alice, CRISIS)
    [alert] = alert_rows(settings.database_url)
    alert_url = f"{ALERTS}/{alert['id']}"
    rows(
        settings.database_url,
        "UPDATE connections SET status = 'revoked' WHERE id = %s RETURNING id",
        (ended,),
    )

    for stranger in (cast.dararith, cast.borey):
        assert await inbox(api, stranger) == []
        assert_problem(await api.get(alert_url, headers=stranger.headers), 404)
        assert_problem(await api.post(f"{alert_url}/read", headers=stranger.headers), 404)
        listed = await api.get(f"/api/v1/patients/{cast.alice.id}/alerts", headers=stranger.headers)
        assert_problem(listed, 404)
    assert_problem(await api.post(f"{alert_url}/acknowledge", headers=cast.dararith.headers), 404)
    assert (await api.get(alert_url, headers=cast.chantha.headers)).status_code == 200


async def test_a_hundred_readings_make_one_alert_that_escalates_once(api, cast, settings) -> None:
    for n in range(100):
        await record(api, cast.alice, cast.alice, CRISIS if n == 60 else STAGE_2)

    [alert] = alert_rows(settings.database_url)
    assert alert["occurrences"] == 100 and alert["severity"] == "CRITICAL"
    assert alert["summary_code"] == "hypertensive_crisis"
    # told twice each: when it opened (MEDIUM), when it escalated (CRITICAL); never for repeats
    assert alert_notices(settings.database_url, cast.alice.id) == 2
    assert alert_notices(settings.database_url, cast.chantha.id) == 2
    assert len(audit_events(settings.database_url, "alert.raise")) == 1
    assert len(audit_events(settings.database_url, "alert.escalate")) == 1
    assert len(audit_events(settings.database_url, "alert.recur")) == 98


async def test_a_hundred_concurrent_readings_make_one_alert(api, cast, settings) -> None:
    readings = [CRISIS if n % 10 == 0 else STAGE_2 for n in range(100)]
    responses = await asyncio.gather(
        *(post_reading(api, cast.alice, cast.alice, reading) for reading in readings)
    )

    assert [r.status_code for r in responses] == [201] * 100
    [alert] = alert_rows(settings.database_url)
    assert alert["occurrences"] == 100 and alert["severity"] == "CRITICAL"
    assert rows(settings.database_url, "SELECT count(*) AS n FROM vital_readings")[0]["n"] == 100
    # opened once, escalated at most once (MEDIUM -> CRITICAL) whatever the order
    told = alert_notices(settings.database_url, cast.chantha.id)
    assert told in (1, 2)
    assert alert_notices(settings.database_url, cast.alice.id) == told


async def test_a_normal_or_back_filled_reading_raises_nothing(api, cast, settings) -> None:
    await record(api, cast.alice, cast.alice, NORMAL)
    await record(api, cast.alice, cast.alice, CRISIS, measured_at=ago(days=3))
    assert alert_rows(settings.database_url) == []
    assert rows(settings.database_url, "SELECT count(*) AS n FROM vital_readings")[0]["n"] == 2


async def test_rules_on_other_vitals_each_keep_their_own_alert(api, cast, settings) -> None:
    await record(api, cast.alice, cast.alice, {"type": "spo2", "percent": 88})
    sugar = {"type": "blood_sugar", "value": 3.6, "unit": "mmol/L", "context": "random"}
    await record(api, cast.alice, cast.alice, sugar)
    await record(api, cast.alice, cast.alice, {"type": "temperature", "celsius": 39.4})
    found = {(a["rule"], a["severity"]) for a in alert_rows(settings.database_url)}
    assert found == {
        ("spo2.low", "CRITICAL"),
        ("blood_sugar.low", "MEDIUM"),
        ("temperature.high", "MEDIUM"),
    }


# --- read, acknowledge, resolve --------------------------------------------------------------


async def test_read_acknowledge_resolve_and_a_new_breach_opens_a_new_alert(
    api, cast, settings
) -> None:
    await record(api, cast.alice, cast.alice, STAGE_2)
    [alert] = await inbox(api, cast.chantha)
    url = f"{ALERTS}/{alert['id']}"

    read = await api.post(f"{url}/read", headers=cast.chantha.headers)
    assert read.status_code == 200 and read.json()["readAt"] is not None
    again = await api.post(f"{url}/read", headers=cast.chantha.headers)
    assert again.json()["readAt"] == read.json()["readAt"]  # the first read stands
    assert (await inbox(api, cast.alice))[0]["readAt"] is None  # each reader for themself
    assert_problem(await api.post(f"{url}/acknowledge", headers=cast.alice.headers), 403)

    acknowledged = await api.post(f"{url}/acknowledge", headers=cast.chantha.headers)
    assert acknowledged.status_code == 200, acknowledged.text
    assert acknowledged.json()["status"] == "acknowledged"
    assert acknowledged.json()["acknowledgedBy"] == str(cast.chantha.id)
    again = await api.post(f"{url}/acknowledge", headers=cast.chantha.headers)
    assert assert_problem(again, 409)["code"] == "invalid_transition"

    # a repeat keeps it acknowledged; an escalation re-opens it
    await record(api, cast.alice, cast.alice, STAGE_2)
    assert (await api.get(url, headers=cast.chantha.headers)).json()["status"] == "acknowledged"
    await record(api, cast.alice, cast.alice, CRISIS)
    reopened = (await api.get(url, headers=cast.chantha.headers)).json()
    assert (reopened["status"], reopened["severity"], reopened["escalatedFrom"]) == (
        "open",
        "CRITICAL",
        "MEDIUM",
    )

    resolved = await api.post(f"{url}/resolve", headers=cast.chantha.headers)
    assert resolved.json()["status"] == "resolved" and resolved.json()["resolvedAt"]
    assert await inbox(api, cast.chantha) == []
    assert len(await inbox(api, cast.chantha, status="resolved")) == 1
    assert_problem(await api.post(f"{url}/resolve", headers=cast.chantha.headers), 409)

    await record(api, cast.alice, cast.alice, STAGE_2)
    [fresh] = await inbox(api, cast.chantha)
    assert fresh["id"] != alert["id"] and fresh["occurrences"] == 1
    actions = [e["action"] for e in audit_events(settings.database_url) if "alert" in e["action"]]
    for action in ("alert.raise", "alert.read", "alert.acknowledge", "alert.escalate",
                   "alert.resolve", "alert.view", "alert.inbox"):  # fmt: skip
        assert action in actions, action


async def test_a_patients_alerts_page_newest_first(api, cast) -> None:
    for reading in (
        {"type": "spo2", "percent": 90},
        {"type": "heart_rate", "bpm": 125},
        {"type": "temperature", "celsius": 38.5},
    ):
        await record(api, cast.alice, cast.alice, reading)
    url = f"/api/v1/patients/{cast.alice.id}/alerts"
    first = (await api.get(url, params={"limit": 2}, headers=cast.chantha.headers)).json()
    rest = (
        await api.get(
            url, params={"limit": 2, "cursor": first["nextCursor"]}, headers=cast.alice.headers
        )
    ).json()
    rules = [a["rule"] for a in first["items"] + rest["items"]]
    assert rules == ["temperature.high", "heart_rate.high", "spo2.low"]
    assert rest["nextCursor"] is None


# --- a patient's rules -----------------------------------------------------------------------


async def test_a_connected_doctor_overrides_a_rule_and_puts_it_back(api, cast, settings) -> None:
    url = f"/api/v1/patients/{cast.alice.id}/alert-rules"
    stricter = {"rule": "spo2.low", "bands": [{"severity": "HIGH", "limits": {"percent": 95}}]}

    assert_problem(await api.put(url, json=stricter, headers=cast.alice.headers), 403)
    assert_problem(await api.put(url, json=stricter, headers=cast.dararith.headers), 404)
    response = await api.put(url, json=stricter, headers=cast.chantha.headers)
    assert response.status_code == 200, response.text
    [spo2] = [r for r in response.json()["rules"] if r["name"] == "spo2.low"]
    assert spo2["overridden"] and spo2["bands"] == [
        {"severity": "HIGH", "code": "hypoxaemia", "limits": {"percent": 95.0}}
    ]
    [event] = audit_events(settings.database_url, "alert_rules.set")
    assert event["changed_fields"] == ["spo2.low"]

    await record(api, cast.alice, cast.alice, {"type": "spo2", "percent": 95})
    [alert] = alert_rows(settings.database_url)
    assert (alert["rule"], alert["severity"]) == ("spo2.low", "HIGH")

    back = await api.put(
        url, json={"rule": "spo2.low", "bands": None}, headers=cast.chantha.headers
    )
    [spo2] = [r for r in back.json()["rules"] if r["name"] == "spo2.low"]
    assert not spo2["overridden"] and len(spo2["bands"]) == 3
    seen = await api.get(url, headers=cast.alice.headers)
    assert {r["name"] for r in seen.json()["rules"]} >= {"blood_pressure.high", "weight.high"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"rule": "mood.low", "bands": []}, "rule"),
        ({"rule": "spo2.low", "bands": [{"severity": "HIGH", "limits": {"bpm": 50}}]},
         "bands[0].limits"),
        ({"rule": "spo2.low", "bands": [{"severity": "HIGH", "limits": {"percent": -3}}]},
         "bands[0].limits"),
        ({"rule": "spo2.low", "bands": [{"severity": "MEDIUM", "limits": {"percent": 88}},
                                        {"severity": "HIGH", "limits": {"percent": 92}}]},
         "bands"),
        ({"rule": "spo2.low", "bands": [{"severity": "HIGH", "limits": {"percent": 88}},
                                        {"severity": "HIGH", "limits": {"percent": 85}}]},
         "bands"),
    ],
)  # fmt: skip
async def test_a_bad_override_is_a_422_and_changes_nothing(
    api, cast, settings, body, field
) -> None:
    url = f"/api/v1/patients/{cast.alice.id}/alert-rules"
    problem = assert_problem(await api.put(url, json=body, headers=cast.chantha.headers), 422)
    assert [e["field"] for e in problem["errors"]] == [field]
    assert rows(settings.database_url, "SELECT * FROM alert_rule_overrides") == []


async def test_a_switched_off_rule_raises_nothing(api, cast, settings) -> None:
    url = f"/api/v1/patients/{cast.alice.id}/alert-rules"
    off = {"rule": "blood_pressure.high", "bands": []}
    assert (await api.put(url, json=off, headers=cast.chantha.headers)).status_code == 200
    await record(api, cast.alice, cast.alice, CRISIS)
    assert alert_rows(settings.database_url) == []


# --- e-mail by preference, and the entry point other features call ----------------------------


async def test_an_alert_is_emailed_to_those_who_asked(api, cast, settings) -> None:
    chosen = await api.put(
        "/api/v1/notifications/preferences",
        json={"preferences": [{"kind": "health.alert", "email": True}]},
        headers=cast.chantha.headers,
    )
    assert chosen.status_code == 200, chosen.text
    await record(api, cast.alice, cast.alice, CRISIS)
    await record(api, cast.alice, cast.alice, CRISIS)  # a repeat: no second e-mail

    mails = rows(
        settings.database_url,
        "SELECT j.owner_id, j.kind, e.template"
        " FROM email_messages e JOIN jobs j ON j.id = e.job_id",
    )
    assert mails == [{"owner_id": str(cast.chantha.id), "kind": "email.send",
                      "template": "health_alert"}]  # fmt: skip


async def test_other_features_raise_alerts_through_one_entry_point(
    cast, services, settings
) -> None:
    async def missed_doses(severity: Severity):
        async with services.uow() as uow:
            raised = await raise_alert(
                uow,
                audit=SYSTEM,
                patient_id=cast.alice.id,
                rule="adherence.missed_doses",
                severity=severity,
                summary_code="missed_dose_streak",
                at=datetime.now(UTC),
                renderer=services.renderer,
                addresses=services.addresses,
                settings=services.settings,
            )
        await deliver(raised, live=services.live, sender=services.sender)
        return raised

    first = await missed_doses(Severity.MEDIUM)
    again = await missed_doses(Severity.LOW)
    worse = await missed_doses(Severity.HIGH)

    assert first.created and len(first.notices) == 2  # Alice and Chantha
    assert not again.created and not again.escalated and again.notices == []
    assert worse.escalated and worse.alert.severity is Severity.HIGH
    assert worse.alert.occurrences == 3 and worse.alert.id == first.alert.id
    [raised] = audit_events(settings.database_url, "alert.raise")
    assert raised["actor_id"] == "system"

    with pytest.raises(ValidationFailed):
        async with services.uow() as uow:
            await raise_alert(
                uow,
                audit=SYSTEM,
                patient_id=cast.alice.id,
                rule="adherence.missed_doses",
                severity=Severity.LOW,
                summary_code="Alice missed 3 doses of warfarin",
                at=datetime.now(UTC),
                renderer=services.renderer,
                addresses=services.addresses,
                settings=services.settings,
            )


async def test_breaches_racing_in_separate_transactions_land_on_one_alert(
    cast, services, settings
) -> None:
    severities = [Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL] * 10

    async def breach(severity: Severity):
        async with services.uow() as uow:
            await uow.connection.execute("SELECT pg_sleep(0.01)")  # hold the transaction open
            return await uow.alerts.upsert(
                Breach(
                    patient_id=cast.alice.id,
                    rule="adherence.low",
                    severity=severity,
                    summary_code="below_target",
                    at=datetime.now(UTC),
                )
            )

    results = await asyncio.gather(*(breach(severity) for severity in severities))

    assert sum(result.created for result in results) == 1
    [alert] = alert_rows(settings.database_url)
    assert alert["occurrences"] == 40 and alert["severity"] == "CRITICAL"
    assert alert["severity_rank"] == 4
