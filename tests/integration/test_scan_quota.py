"""Scan quotas through the API: the patient's plan's OCR scans a calendar month (UTC, the free
plan's three without a live subscription), refused with 403 ``scan_quota_exhausted`` before
any job is queued or byte kept; a paid plan allows more, a new month starts again, and two
uploads racing for the last scan of the month are counted one after the other."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from domain.scans.quota import month_of
from tests.support.api import assert_problem
from tests.support.prescription_images import sample
from tests.support.records import job_id_of
from tests.support.rows import audit_events, rows
from tests.support.scans import store_scan, upload_scan


@pytest.fixture
def platform_settings(settings):
    """The embedded block store keeps the ciphertext (no IPFS node needed for scans)."""
    return settings


FREE_SCANS = 3  # the free plan as migration 0706 seeds it
JPEG = sample(3, degraded=True).data


def counts(settings) -> dict[str, int]:
    [row] = rows(
        settings.database_url,
        """
        SELECT (SELECT count(*) FROM jobs) AS jobs, (SELECT count(*) FROM uploads) AS uploads,
               (SELECT count(*) FROM upload_chunks) AS chunks,
               (SELECT count(*) FROM scans) AS scans
        """,
    )
    return row


def subscribe(settings, user_id, plan_code: str) -> None:
    """A live subscription, as a settled payment leaves one (the quota reads only the row)."""
    now = datetime.now(UTC)
    rows(
        settings.database_url,
        """
        INSERT INTO subscriptions (id, user_id, plan_code, status, period_start, period_end,
                                   created_at, updated_at)
        VALUES (%s, %s, %s, 'active', %s, %s, %s, %s) RETURNING id
        """,
        (uuid.uuid4(), user_id, plan_code, now, now + timedelta(days=30), now, now),
    )


async def test_the_free_allowance_then_a_refusal_that_keeps_nothing(api, platform, cast, settings):
    first = await upload_scan(api, cast.alice.headers, cast.alice.id, JPEG)
    await store_scan(platform, job_id_of(first))  # a stored scan counts as a waiting one does
    for who in (cast.alice, cast.chantha):  # the connected doctor's upload is on Alice's plan
        assert (await upload_scan(api, who.headers, cast.alice.id, JPEG)).status_code == 202
    before = counts(settings)

    refused = await upload_scan(api, cast.chantha.headers, cast.alice.id, JPEG)

    problem = assert_problem(refused, 403)
    assert problem["code"] == "scan_quota_exhausted"
    assert problem["allowance"] == FREE_SCANS
    assert problem["resetsAt"] == month_of(datetime.now(UTC))[1].isoformat()
    assert str(cast.alice.id) not in refused.text
    assert counts(settings) == before  # no job, no staged bytes
    assert len(audit_events(settings.database_url, "scan.upload")) == FREE_SCANS
    # another patient's month is their own
    connected = await upload_scan(api, cast.borey.headers, cast.borey.id, JPEG)
    assert connected.status_code == 202


async def test_a_paid_plan_allows_more(api, cast, settings):
    for _ in range(FREE_SCANS):
        assert (await upload_scan(api, cast.alice.headers, cast.alice.id, JPEG)).status_code == 202
    assert (await upload_scan(api, cast.alice.headers, cast.alice.id, JPEG)).status_code == 403

    subscribe(settings, cast.alice.id, "basic-monthly")  # ten a month

    for _ in range(10 - FREE_SCANS):
        assert (await upload_scan(api, cast.alice.headers, cast.alice.id, JPEG)).status_code == 202
    problem = assert_problem(await upload_scan(api, cast.alice.headers, cast.alice.id, JPEG), 403)
    assert problem["allowance"] == 10


async def test_a_new_month_starts_the_count_again(api, platform, cast, settings):
    first = await upload_scan(api, cast.alice.headers, cast.alice.id, JPEG)
    await store_scan(platform, job_id_of(first))
    for _ in range(FREE_SCANS - 1):
        await upload_scan(api, cast.alice.headers, cast.alice.id, JPEG)
    assert (await upload_scan(api, cast.alice.headers, cast.alice.id, JPEG)).status_code == 403

    # what was uploaded happened last month
    last_month = month_of(datetime.now(UTC))[0] - timedelta(seconds=1)
    for table in ("scans", "uploads"):
        rows(
            settings.database_url,
            f"UPDATE {table} SET created_at = %s RETURNING id",
            (last_month,),
        )

    assert (await upload_scan(api, cast.alice.headers, cast.alice.id, JPEG)).status_code == 202


async def test_two_uploads_racing_for_the_last_scan_one_wins(api, cast, settings):
    for _ in range(FREE_SCANS - 1):
        await upload_scan(api, cast.alice.headers, cast.alice.id, JPEG)
    before = counts(settings)

    responses = await asyncio.gather(
        *(upload_scan(api, who.headers, cast.alice.id, JPEG) for who in (cast.alice, cast.chantha))
    )

    assert sorted(r.status_code for r in responses) == [202, 403]
    after = counts(settings)
    assert (after["jobs"], after["uploads"]) == (before["jobs"] + 1, before["uploads"] + 1)


def waiting_for_advisory_locks(settings) -> int:
    [row] = rows(
        settings.database_url,
        "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
    )
    return row["n"]


async def test_the_quota_lock_makes_the_second_count_wait_for_the_first_commit(platform, cast):
    """Why the race above has one winner whatever the timing: the second upload's count waits
    until the first upload's transaction (its staged row included) has committed."""
    since = month_of(datetime.now(UTC))[0]
    counted, release = asyncio.Event(), asyncio.Event()

    async def first() -> int:
        async with platform.uow() as uow:
            used = await uow.scan_usage.lock_and_count(cast.alice.id, since)
            counted.set()
            await release.wait()
            return used

    async def second() -> int:
        await counted.wait()
        async with platform.uow() as uow:
            return await uow.scan_usage.lock_and_count(cast.alice.id, since)

    racing = asyncio.gather(first(), second())
    await counted.wait()
    for _ in range(100):
        if waiting_for_advisory_locks(platform.settings) == 1:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the second count did not wait for the quota lock")
    release.set()
    assert await racing == [0, 0]
    assert waiting_for_advisory_locks(platform.settings) == 0


async def allowance_of(api, who, patient=None):  # type: ignore[no-untyped-def]
    params = {"patientId": str(patient)} if patient is not None else {}
    return await api.get("/api/v1/scans/allowance", params=params, headers=who.headers)


async def test_the_allowance_shows_what_the_quota_counts_and_refuses_by(
    api, platform, cast, settings
):
    start, resets_at = month_of(datetime.now(UTC))
    empty = await allowance_of(api, cast.alice)
    assert empty.status_code == 200, empty.text
    assert empty.json() == {
        "plan": "free",
        "allowed": FREE_SCANS,
        "used": 0,
        "remaining": FREE_SCANS,
        "periodStart": start.isoformat().replace("+00:00", "Z"),
        "resetsAt": resets_at.isoformat().replace("+00:00", "Z"),
    }
    stored = await upload_scan(api, cast.alice.headers, cast.alice.id, JPEG)
    await store_scan(platform, job_id_of(stored))  # one stored, one waiting: both count
    await upload_scan(api, cast.alice.headers, cast.alice.id, JPEG)

    # the connected doctor names the patient; the same figures
    for who, patient in ((cast.alice, None), (cast.chantha, cast.alice.id)):
        shown = (await allowance_of(api, who, patient)).json()
        assert (shown["used"], shown["remaining"]) == (2, FREE_SCANS - 2)

    assert (await upload_scan(api, cast.alice.headers, cast.alice.id, JPEG)).status_code == 202
    assert (await allowance_of(api, cast.alice)).json()["remaining"] == 0
    assert (await upload_scan(api, cast.alice.headers, cast.alice.id, JPEG)).status_code == 403

    subscribe(settings, cast.alice.id, "basic-monthly")
    upgraded = (await allowance_of(api, cast.alice)).json()
    assert (upgraded["plan"], upgraded["allowed"], upgraded["remaining"]) == (
        "basic-monthly",
        10,
        10 - FREE_SCANS,
    )
    reads = audit_events(settings.database_url, "scan.allowance")
    assert {event["resource_id"] for event in reads} == {str(cast.alice.id)}


async def test_the_allowance_is_refused_to_strangers_and_needs_a_patient_for_a_doctor(
    api, cast
) -> None:
    # Dararith is a doctor not connected to Alice; Borey another patient
    for stranger in (cast.dararith, cast.borey):
        assert_problem(await allowance_of(api, stranger, cast.alice.id), 404)
    problem = assert_problem(await allowance_of(api, cast.chantha), 422)
    assert "patientId" in problem["detail"]
