"""Vitals and alerts through their use cases on in-memory fakes: a reading raises what the
patient's rules (defaults, or a connected doctor's overrides) say, tells the patient and every
connected doctor once per alert and escalation, and alerts are read, acknowledged and resolved."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from domain.accounts.model import AccountStatus, User
from domain.alerts import handling, listing, overrides
from domain.alerts.model import AlertFilter, AlertStatus, Severity
from domain.alerts.rules import BandSetting
from domain.connections import service as connections
from domain.errors import Forbidden, InvalidTransition, NotFound, ValidationFailed
from domain.identity import Principal
from domain.notifications.inapp import NoticeKind
from domain.vitals import reading as reading_cases
from domain.vitals import recording
from domain.vitals.model import (
    BloodPressure,
    HeartRate,
    Measurement,
    OxygenSaturation,
    ReadingFilter,
    VitalType,
    Weight,
)
from tests.fakes.account_platform import unit_settings
from tests.fakes.accounts import FakeUserRepository
from tests.fakes.alerts import FakeAlertRepository, FakeCareTeam, FakeRuleOverrides
from tests.fakes.emails import FakeAddresses, FakeEmailRepository, FakeRenderer, emails_sent
from tests.fakes.vitals import FakeReadingRepository
from tests.fakes.world import World

LOW, MEDIUM, HIGH, CRITICAL = Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL


class Clinic:
    """A world with vitals and alerts: patient Sokha, her doctor Dara, and Dr Stranger."""

    def __init__(self) -> None:
        self.world = World(
            renderer=FakeRenderer(), addresses=FakeAddresses(), settings=unit_settings()
        )
        self.world.uow.repositories.update(
            {
                "readings": FakeReadingRepository,
                "alerts": FakeAlertRepository,
                "alert_rules": FakeRuleOverrides,
                "care_team": FakeCareTeam,
                "users": FakeUserRepository,
                "emails": FakeEmailRepository,
            }
        )
        self.patient = self.world.patient()
        self.doctor = self.world.doctor()
        self.stranger = self.world.doctor("Dr Stranger")

    async def connect(self, doctor: Principal) -> uuid.UUID:
        asked = await self.world.run(
            connections.request_connection, self.patient, "connection.request", as_id(doctor)
        )
        await self.world.run(
            connections.answer_connection, doctor, "connection.accept", asked.id, "accept"
        )
        return asked.id

    async def record(self, measurement: Measurement, who: Principal | None = None, ago=None):
        at = self.world.clock.now() - (ago or timedelta(minutes=1))
        return await self.world.run(
            recording.record_reading,
            who or self.patient,
            "vital.record",
            as_id(self.patient),
            measurement,
            at,
        )

    def alerts(self) -> list:
        return sorted(self.world.uow.database.table("alerts").values(), key=lambda a: a.created_at)

    def alert_notices(self, who: Principal) -> list:
        return [n for n in self.world.notices_of(who) if n.kind is NoticeKind.HEALTH_ALERT]

    def add_account(self, who: Principal, email: str) -> None:
        now = self.world.clock.now()
        self.world.uow.database.table("users")[as_id(who)] = User(
            id=as_id(who),
            email=email,
            role=who.role,
            status=AccountStatus.ACTIVE,
            name="Dr Dara",
            password_hash=None,
            created_at=now,
            updated_at=now,
        )


def as_id(principal: Principal) -> uuid.UUID:
    return uuid.UUID(principal.user_id)


@pytest.fixture
async def clinic() -> Clinic:
    made = Clinic()
    await made.connect(made.doctor)
    return made


# --- the threshold and override matrix, through the use cases --------------------------------

# (a connected doctor's override or None, the reading, the alerts it leaves: {rule: severity})
MATRIX = [
    (None, BloodPressure(120, 78), {}),
    (None, BloodPressure(142, 85), {"blood_pressure.high": MEDIUM}),
    (None, BloodPressure(182, 125), {"blood_pressure.high": CRITICAL}),
    (None, BloodPressure(85, 55), {"blood_pressure.low": MEDIUM}),
    (None, HeartRate(135), {"heart_rate.high": HIGH}),
    (None, OxygenSaturation(92), {"spo2.low": MEDIUM}),
    (None, OxygenSaturation(88), {"spo2.low": CRITICAL}),
    (None, Weight(120.0), {}),
    (("spo2.low", [BandSetting(HIGH, {"percent": 86})]), OxygenSaturation(88), {}),
    (("spo2.low", [BandSetting(HIGH, {"percent": 86})]), OxygenSaturation(86), {"spo2.low": HIGH}),
    (("spo2.low", []), OxygenSaturation(80), {}),
    (("blood_pressure.high", [BandSetting(LOW, {"systolic": 125})]), BloodPressure(126, 70),
     {"blood_pressure.high": LOW}),
    (("weight.high", [BandSetting(MEDIUM, {"kg": 90.0})]), Weight(91.0), {"weight.high": MEDIUM}),
    (("heart_rate.high", [BandSetting(CRITICAL, {"bpm": 120})]), HeartRate(125),
     {"heart_rate.high": CRITICAL}),
]  # fmt: skip


@pytest.mark.parametrize(("override", "reading", "expected"), MATRIX)
async def test_threshold_and_override_matrix(clinic, override, reading, expected) -> None:
    if override is not None:
        rule, bands = override
        await clinic.world.run(
            overrides.set_rule,
            clinic.doctor,
            "alert_rules.write",
            as_id(clinic.patient),
            rule,
            bands,
        )
    await clinic.record(reading)

    assert {a.rule: a.severity for a in clinic.alerts()} == expected
    told = len(expected)
    assert len(clinic.alert_notices(clinic.patient)) == told
    assert len(clinic.alert_notices(clinic.doctor)) == told
    assert clinic.alert_notices(clinic.stranger) == []


# --- no flood, escalation, who is told ---------------------------------------------------------


async def test_a_hundred_readings_make_one_alert_and_few_notices(clinic) -> None:
    for n in range(100):
        severe = BloodPressure(185, 100) if n == 50 else BloodPressure(145, 85)
        await clinic.record(severe)
    [alert] = clinic.alerts()
    assert (alert.occurrences, alert.severity, alert.summary_code) == (
        100,
        CRITICAL,
        "hypertensive_crisis",
    )
    assert [n.data["severity"] for n in clinic.alert_notices(clinic.doctor)] == [
        "MEDIUM",
        "CRITICAL",
    ]
    assert clinic.world.audited().count("alert.recur") == 98


async def test_only_doctors_connected_now_are_told_and_see_it(clinic) -> None:
    ended = await clinic.connect(clinic.stranger)
    await clinic.world.run(
        connections.answer_connection, clinic.stranger, "connection.revoke", ended, "revoke"
    )
    await clinic.record(OxygenSaturation(88))

    assert clinic.alert_notices(clinic.stranger) == []
    inbox = await clinic.world.run(
        listing.list_my_alerts, clinic.stranger, "alert.inbox", AlertFilter()
    )
    assert inbox.items == []
    [alert] = clinic.alerts()
    with pytest.raises(NotFound):
        await clinic.world.run(handling.read_alert, clinic.stranger, "alert.read", alert.id)
    with pytest.raises(NotFound):
        await clinic.world.run(
            listing.list_patient_alerts,
            clinic.stranger,
            "alert.list",
            as_id(clinic.patient),
            AlertFilter(),
        )
    mine = await clinic.world.run(
        listing.list_my_alerts, clinic.doctor, "alert.inbox", AlertFilter()
    )
    assert [view.alert.id for view in mine.items] == [alert.id]


async def test_a_back_filled_reading_raises_nothing(clinic) -> None:
    await clinic.record(BloodPressure(190, 125), ago=timedelta(days=2))
    assert clinic.alerts() == []
    assert len(clinic.world.uow.database.table("readings")) == 1


async def test_an_impossible_reading_is_refused_and_leaves_nothing(clinic) -> None:
    with pytest.raises(ValidationFailed) as refused:
        await clinic.record(OxygenSaturation(140))
    assert refused.value.field == "reading.percent"
    assert clinic.world.uow.database.table("readings") == {}
    assert clinic.alerts() == []


async def test_alert_email_goes_only_to_who_asked(clinic) -> None:
    clinic.add_account(clinic.doctor, "dara@example.org")
    async with clinic.world.uow() as uow:
        await uow.notices.set_preferences(as_id(clinic.doctor), {NoticeKind.HEALTH_ALERT: True})
    await clinic.record(BloodPressure(185, 100))
    await clinic.record(BloodPressure(186, 100))  # a repeat: no second e-mail

    [mail] = emails_sent(clinic.world.uow.database, "health_alert")
    assert mail.to_address == "dara@example.org"
    assert "185" not in str(mail.data) and "CRITICAL" in mail.data["alertMessage"]
    assert clinic.world.sender.sent  # the e-mail job went out after the commit


# --- read, acknowledge, resolve ----------------------------------------------------------------


async def test_acknowledge_and_resolve_are_a_connected_doctors(clinic) -> None:
    await clinic.record(HeartRate(112))
    [alert] = clinic.alerts()

    view = await clinic.world.run(handling.mark_alert_read, clinic.patient, "alert.read", alert.id)
    assert view.read_at is not None
    with pytest.raises(Forbidden):
        await clinic.world.run(
            handling.move_alert, clinic.patient, "alert.acknowledge", alert.id, "acknowledge"
        )
    acked = await clinic.world.run(
        handling.move_alert, clinic.doctor, "alert.acknowledge", alert.id, "acknowledge"
    )
    assert acked.alert.status is AlertStatus.ACKNOWLEDGED and acked.read_at is None
    with pytest.raises(InvalidTransition):
        await clinic.world.run(
            handling.move_alert, clinic.doctor, "alert.acknowledge", alert.id, "acknowledge"
        )
    done = await clinic.world.run(
        handling.move_alert, clinic.doctor, "alert.resolve", alert.id, "resolve"
    )
    assert done.alert.status is AlertStatus.RESOLVED
    assert done.alert.resolved_by == as_id(clinic.doctor)

    await clinic.record(HeartRate(113))
    assert [a.status for a in clinic.alerts()] == [AlertStatus.RESOLVED, AlertStatus.OPEN]
    for action in ("alert.raise", "alert.read", "alert.acknowledge", "alert.resolve"):
        assert action in clinic.world.audited()


async def test_readings_list_by_type_and_latest(clinic) -> None:
    for minutes, bpm in ((30, 70), (20, 75), (10, 80)):
        await clinic.record(HeartRate(bpm), ago=timedelta(minutes=minutes))
    await clinic.record(OxygenSaturation(97), clinic.doctor, ago=timedelta(minutes=15))

    page = await clinic.world.run(
        reading_cases.list_readings,
        clinic.doctor,
        "vital.list",
        as_id(clinic.patient),
        ReadingFilter(type=VitalType.HEART_RATE, limit=2),
    )
    assert [r.measurement.bpm for r in page.items] == [80, 75] and page.next_cursor
    latest = await clinic.world.run(
        reading_cases.latest_readings, clinic.patient, "vital.list", as_id(clinic.patient)
    )
    assert {r.type: r.recorder.value for r in latest} == {
        VitalType.HEART_RATE: "patient",
        VitalType.SPO2: "doctor",
    }
    with pytest.raises(NotFound):
        await clinic.world.run(
            reading_cases.latest_readings, clinic.stranger, "vital.list", as_id(clinic.patient)
        )
