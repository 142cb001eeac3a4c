"""Scan quotas through fakes: the patient's plan's scans a calendar month (UTC), checked in the
upload's transaction before its job is queued; a refusal keeps nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from domain.errors import Forbidden
from domain.files.upload import upload_file
from domain.identity import Role
from domain.records.kind import RECORDS
from domain.scans.kind import SCANS
from domain.scans.quota import ScanAllowance, ScanQuotaExhausted, month_of, usage_of
from domain.subscriptions.model import (
    FREE_PLAN,
    Entitlement,
    Plan,
    Subscription,
    SubscriptionStatus,
    allowance,
)
from tests.fakes.files import files_of
from tests.fakes.pipeline import CALLER, FilePlatform, access, receiving
from tests.fakes.scans import FakeScanUsage
from tests.fakes.subscriptions import FakePlanRepository, FakeSubscriptionRepository

JPEG = b"\xff\xd8\xff\xe0" + bytes(2000) + b"\xff\xd9"
NOW = datetime(2026, 3, 31, 23, 30, tzinfo=UTC)
SCANS_A_MONTH = Entitlement.OCR_SCANS_PER_MONTH
FREE = Plan(code=FREE_PLAN, name="Free", period_days=30, entitlements={SCANS_A_MONTH: 2})
BASIC = Plan(code="basic-monthly", name="Basic", period_days=30, entitlements={SCANS_A_MONTH: 4})


@pytest.fixture
async def platform() -> FilePlatform:
    platform = FilePlatform()
    platform.uow.repositories.update(
        files=files_of((RECORDS, SCANS)),
        scan_usage=FakeScanUsage,
        plans=FakePlanRepository,
        subscriptions=FakeSubscriptionRepository,
    )
    platform.clock.advance((NOW - platform.clock.now()).total_seconds())
    async with platform.uow() as uow:
        await uow.plans.set(FREE)
        await uow.plans.set(BASIC)
    return platform


async def upload(platform, who, patient, key=None):
    receive = receiving({"patientId": patient.user_id}, JPEG, "rx.jpg")
    return await platform.cases.run(
        upload_file, SCANS, access(who, SCANS.policies.upload), CALLER, receive, key
    )


async def subscribe(platform, patient, plan: Plan, status=SubscriptionStatus.ACTIVE) -> None:
    async with platform.uow() as uow:
        await uow.subscriptions.add(
            Subscription(
                id=uuid.uuid4(),
                user_id=uuid.UUID(patient.user_id),
                plan_code=plan.code,
                status=status,
                period_start=NOW - timedelta(days=1),
                period_end=NOW + timedelta(days=29),
                created_at=NOW,
                updated_at=NOW,
            )
        )


def kept(platform) -> tuple[int, int, int]:
    return (
        len(platform.table("uploads")),
        len(platform.table("jobs")),
        len(platform.sender.sent),
    )


# --- the rules --------------------------------------------------------------------------------


def test_the_month_is_the_utc_calendar_month() -> None:
    assert month_of(NOW) == (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
    december = datetime(2026, 12, 31, 23, 59, tzinfo=UTC)
    assert month_of(december)[1] == datetime(2027, 1, 1, tzinfo=UTC)
    # 01:00 in Phnom Penh on 1 April is still March in UTC
    phnom_penh = datetime(2026, 4, 1, 1, 0, tzinfo=UTC) - timedelta(hours=7)
    assert month_of(phnom_penh.astimezone(UTC))[0] == datetime(2026, 3, 1, tzinfo=UTC)


def test_the_allowance_is_the_live_plans_else_the_free_plans() -> None:
    live = Subscription(
        id=uuid.uuid4(), user_id=uuid.uuid4(), plan_code="basic-monthly",
        status=SubscriptionStatus.ACTIVE, period_start=NOW - timedelta(days=1),
        period_end=NOW + timedelta(days=1), created_at=NOW, updated_at=NOW,
    )  # fmt: skip
    assert allowance(live, BASIC, FREE, SCANS_A_MONTH, NOW) == 4
    assert allowance(None, None, FREE, SCANS_A_MONTH, NOW) == 2
    assert allowance(None, None, None, SCANS_A_MONTH, NOW) == 0
    # lapsed past its grace: back to the free plan's allowance
    assert allowance(live, BASIC, FREE, SCANS_A_MONTH, NOW + timedelta(days=10)) == 2


# --- through the upload -----------------------------------------------------------------------


async def test_over_the_free_allowance_is_refused_and_keeps_nothing(platform) -> None:
    patient = await platform.person(Role.PATIENT)
    for _ in range(2):
        assert (await upload(platform, patient, patient)).created
    assert kept(platform) == (2, 2, 2)

    with pytest.raises(ScanQuotaExhausted) as refused:
        await upload(platform, patient, patient)
    assert isinstance(refused.value, Forbidden)
    assert refused.value.code == "scan_quota_exhausted"
    assert refused.value.extensions == {"allowance": 2, "resetsAt": "2026-04-01T00:00:00+00:00"}
    assert patient.user_id not in refused.value.message
    assert kept(platform) == (2, 2, 2)  # no job, no staged bytes, nothing sent
    assert {upload_id for upload_id, _ in platform.table("upload_chunks")} == set(
        platform.table("uploads")
    )


async def test_a_stored_scan_still_counts(platform) -> None:
    patient = await platform.person(Role.PATIENT)
    first = await upload(platform, patient, patient)
    await platform.run_store(SCANS, first.job.id)
    assert platform.table("uploads") == {} and len(platform.table("scans")) == 1
    await upload(platform, patient, patient)
    with pytest.raises(ScanQuotaExhausted):
        await upload(platform, patient, patient)


async def test_a_connected_doctors_upload_counts_against_the_patients_plan(platform) -> None:
    patient = await platform.person(Role.PATIENT)
    doctor = await platform.person(Role.DOCTOR)
    await platform.connect(doctor, patient)
    await subscribe(platform, doctor, BASIC)  # the doctor's own plan pays for nothing here
    await upload(platform, doctor, patient)
    await upload(platform, patient, patient)
    with pytest.raises(ScanQuotaExhausted):
        await upload(platform, doctor, patient)


async def test_a_paid_plan_allows_more_and_a_replay_is_not_a_second_scan(platform) -> None:
    patient = await platform.person(Role.PATIENT)
    await upload(platform, patient, patient, key="k1")
    await upload(platform, patient, patient, key="k2")
    with pytest.raises(ScanQuotaExhausted):
        await upload(platform, patient, patient)
    again = await upload(platform, patient, patient, key="k2")  # the same request: its job
    assert not again.created

    await subscribe(platform, patient, BASIC)
    await upload(platform, patient, patient)
    await upload(platform, patient, patient)
    with pytest.raises(ScanQuotaExhausted) as refused:
        await upload(platform, patient, patient)
    assert refused.value.extensions["allowance"] == 4


async def test_a_new_month_starts_the_count_again(platform) -> None:
    patient = await platform.person(Role.PATIENT)
    await upload(platform, patient, patient)
    await upload(platform, patient, patient)
    with pytest.raises(ScanQuotaExhausted):
        await upload(platform, patient, patient)
    platform.clock.advance(30 * 60)  # 00:00 UTC on 1 April
    assert (await upload(platform, patient, patient)).created


async def test_other_kinds_have_no_quota(platform) -> None:
    patient = await platform.person(Role.PATIENT)
    for _ in range(3):
        receive = receiving(
            {"patientId": patient.user_id, "recordType": "LAB_RESULT", "description": "x"},
            b"blob",
        )
        await platform.cases.run(
            upload_file, RECORDS, access(patient, RECORDS.policies.upload), CALLER, receive, None
        )
    assert len(platform.table("jobs")) == 3


async def test_the_allowance_shown_names_the_plan_that_sets_it(platform) -> None:
    patient = await platform.person(Role.PATIENT)
    await upload(platform, patient, patient)
    patient_id = uuid.UUID(patient.user_id)
    async with platform.uow() as uow:
        shown = await usage_of(uow, patient_id, NOW)
    assert shown == ScanAllowance(
        plan=FREE_PLAN,
        allowed=2,
        used=1,
        period_start=datetime(2026, 3, 1, tzinfo=UTC),
        resets_at=datetime(2026, 4, 1, tzinfo=UTC),
    )
    assert shown.remaining == 1

    await subscribe(platform, patient, BASIC)
    async with platform.uow() as uow:
        paid = await usage_of(uow, patient_id, NOW)
        lapsed = await usage_of(uow, patient_id, NOW + timedelta(days=40))
    assert (paid.plan, paid.allowed, paid.remaining) == ("basic-monthly", 4, 3)
    # past its grace the subscription no longer applies: the free plan's, in April's count
    assert (lapsed.plan, lapsed.allowed, lapsed.used) == (FREE_PLAN, 2, 0)
