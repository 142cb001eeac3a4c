"""Reading scans with the outside OCR provider (OCR_ENGINE=provider), against the suite's local
provider (tests/support/ocr_provider.py: a real HTTP server that reads with the embedded
engine and signs its callbacks with ``standardwebhooks``) calling back a real API process.

The jobs run here, one attempt at a time (the scan's reading, the delivery's processing, the
timeout sweep), so each step is seen; tests/e2e/test_scan_provider.py runs the same path on
the platform's own worker and scheduler.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import msgspec
import pytest

from domain.adapters.scans.provider import HttpOcrProvider
from domain.errors import PermanentFailure
from domain.jobs.model import Job, JobStatus
from domain.scans.jobs import SCAN_PROVIDER_TIMEOUT
from domain.scans.ports import OcrUnavailable
from domain.webhooks.jobs import WEBHOOK_PROCESS
from tests.support.api import assert_problem
from tests.support.handlers import run_handler
from tests.support.ocr_provider import SECRET, TOKEN, running_ocr_provider, wait_for_callbacks
from tests.support.prescription_images import sample
from tests.support.processes import start_api
from tests.support.records import job_id_of, run_job
from tests.support.rows import audit_events, rows
from tests.support.scans import reading_job_of, run_scan_read, store_scan, upload_scan
from tests.support.servers import free_port

pytestmark = pytest.mark.slow  # an API process per test, and real OCR


@pytest.fixture
def callback_port() -> int:
    return free_port()


@pytest.fixture
def provider(callback_port):
    with running_ocr_provider(f"http://127.0.0.1:{callback_port}/api/v1/webhooks/ocr") as server:
        yield server


@pytest.fixture
def platform_settings(settings, provider):
    return msgspec.structs.replace(
        settings,
        ocr_engine="provider",
        ocr_provider_url=provider.url,
        ocr_provider_token=TOKEN,
        ocr_provider_timeout_seconds=1.0,
        webhook_secrets={"ocr": (SECRET,)},
    )


@pytest.fixture
def callback_api(platform_settings, callback_port, tmp_path):
    """The API the provider calls back: a real process on the test's database."""
    process = start_api(platform_settings, tmp_path / "logs", callback_port)
    yield process
    process.stop()


async def _stored(api, platform, member, patient_id, data: bytes) -> str:
    job = await store_scan(
        platform, job_id_of(await upload_scan(api, member.headers, patient_id, data))
    )
    assert job.status is JobStatus.SUCCEEDED, job.error
    return job.result["scanId"]


async def _process(handler_kind, platform, job_id: uuid.UUID) -> Job:
    async def handler(job: Job, services: Any) -> dict[str, Any] | None:
        return await run_handler(handler_kind, job, services)

    return await run_job(platform, job_id, handler)


def _deliveries(settings) -> list[dict[str, Any]]:
    return rows(
        settings.database_url,
        "SELECT d.*, j.id AS job_id FROM webhook_deliveries d"
        " JOIN jobs j ON j.kind = 'webhook.process' AND j.payload->>'deliveryId' = d.id::text"
        " ORDER BY d.received_at",
    )


async def _sent(api, platform, cast, settings, provider, data: bytes) -> tuple[str, uuid.UUID]:
    """A scan uploaded and stored, its reading job run: the provider has its pages."""
    scan_id = await _stored(api, platform, cast.alice, cast.alice.id, data)
    job_id = reading_job_of(settings.database_url, scan_id)
    job = await run_scan_read(platform, job_id)
    assert job.status is JobStatus.SUCCEEDED, job.error
    assert job.result == {"scanId": scan_id, "engine": "provider", "awaiting": "provider"}
    return scan_id, job_id


async def test_the_providers_signed_callback_becomes_the_reading_a_doctor_confirms(
    api, platform, cast, settings, provider, callback_api
):
    prescription = sample(1)
    scan_id, job_id = await _sent(api, platform, cast, settings, provider, prescription.data)
    assert provider.requests == [(str(job_id), 1)]  # our reference is the reading job's id

    await asyncio.to_thread(wait_for_callbacks, provider, 1)
    assert [c.status for c in provider.callbacks] == [202]
    pending = await api.get(f"/api/v1/scans/{scan_id}/reading", headers=cast.alice.headers)
    assert_problem(pending, 404)
    assert pending.json()["code"] == "reading_pending"
    [delivery] = _deliveries(settings)
    assert (delivery["provider"], delivery["event_type"]) == ("ocr", "ocr.completed")
    processed = await _process(WEBHOOK_PROCESS, platform, delivery["job_id"])
    assert processed.status is JobStatus.SUCCEEDED, processed.error
    assert processed.result["outcome"] == "read"

    response = await api.get(f"/api/v1/scans/{scan_id}/reading", headers=cast.chantha.headers)
    assert response.status_code == 200, response.text
    reading = response.json()
    assert reading["engine"] == "provider"
    draft = reading["draft"]
    assert draft["prescriber"]["value"] == prescription.prescriber
    assert draft["patientName"]["value"] == prescription.patient
    got = [(i["medicine"]["name"], i["strength"]["value"], i["notation"]) for i in draft["items"]]
    assert got == [(t.generic, t.strength, t.notation) for t in prescription.items]

    # the OCR text is sealed wherever it rests, and in no job
    [stored] = rows(settings.database_url, "SELECT * FROM webhook_deliveries")
    [kept] = rows(
        settings.database_url, "SELECT * FROM scan_readings WHERE scan_id = %s", (scan_id,)
    )
    jobs = rows(settings.database_url, "SELECT payload::text AS p, result::text AS r FROM jobs")
    for text in (prescription.patient, prescription.prescriber, prescription.items[0].printed):
        assert text.encode() not in bytes(stored["body_sealed"])
        assert text.encode() not in bytes(kept["reading_sealed"])
        assert not any(text.lower() in (j["p"] + (j["r"] or "")).lower() for j in jobs)

    # the doctor confirms it as on the embedded path
    items = [
        {
            "medicineId": item["medicine"]["medicineId"],
            "strength": item["strength"]["value"],
            "doseAmount": item["doseAmount"]["value"],
            "doseForm": item["doseForm"]["value"] or "tablet",
            "frequency": item["frequency"]["value"],
            "startDate": platform.clock.now().date().isoformat(),
            "durationDays": int(item["durationDays"]["value"] or 5),
        }
        for item in draft["items"]
    ]
    confirmed = await api.post(
        f"/api/v1/scans/{scan_id}/confirm", headers=cast.chantha.headers, json={"items": items}
    )
    assert confirmed.status_code == 201, confirmed.text


async def test_a_bad_signature_and_a_stale_timestamp_are_refused_a_replay_changes_nothing(
    api, platform, cast, settings, provider, callback_api
):
    for mode in ("bad_signature", "stale"):
        provider.mode = mode
        await _sent(api, platform, cast, settings, provider, sample(5).data)
        await asyncio.to_thread(wait_for_callbacks, provider, len(provider.callbacks) + 1)
        assert provider.callbacks[-1].status == 401, mode
    assert _deliveries(settings) == []  # nothing stored but the refusals' audit
    assert len(audit_events(settings.database_url, "webhook.receive")) == 0

    provider.mode = "replay"
    scan_id, _ = await _sent(api, platform, cast, settings, provider, sample(5).data)
    await asyncio.to_thread(wait_for_callbacks, provider, len(provider.callbacks) + 2)
    first, again = provider.callbacks[-2:]
    assert first.webhook_id == again.webhook_id
    assert (first.status, again.status) == (202, 200)
    [delivery] = _deliveries(settings)  # stored once
    assert (await _process(WEBHOOK_PROCESS, platform, delivery["job_id"])).result[
        "outcome"
    ] == "read"
    reading = await api.get(f"/api/v1/scans/{scan_id}/reading", headers=cast.alice.headers)
    assert reading.status_code == 200


async def test_a_scan_the_provider_never_answers_times_out_and_a_late_answer_changes_nothing(
    api, platform, cast, settings, provider, callback_api
):
    provider.mode = "silent"
    scan_id, job_id = await _sent(api, platform, cast, settings, provider, sample(7).data)
    assert provider.requests == [(str(job_id), 1)] and provider.callbacks == []

    await asyncio.sleep(1.2)  # OCR_PROVIDER_TIMEOUT_SECONDS is 1 here
    from domain.jobs.submit import interval_job, submit_job

    submission = await submit_job(
        platform.uow, platform.sender, interval_job(SCAN_PROVIDER_TIMEOUT, platform.clock.now(), 1)
    )
    swept = await _process(SCAN_PROVIDER_TIMEOUT, platform, submission.job.id)
    assert swept.status is JobStatus.SUCCEEDED, swept.error
    assert swept.result == {"timedOut": 1, "scanIds": [scan_id]}
    failed = await api.get(f"/api/v1/scans/{scan_id}/reading", headers=cast.alice.headers)
    assert_problem(failed, 404)
    assert failed.json()["code"] == "ocr_provider_timeout"
    assert len(audit_events(settings.database_url, "scan.provider_timeout")) == 1

    # the provider answers after all: acknowledged, recorded as late, nothing changes
    lines = [{"text": "Amoxicillin 500 mg TID", "box": [10, 10, 300, 40], "confidence": 0.99}]
    data = {"reference": str(job_id), "lines": lines}
    [late] = await asyncio.to_thread(provider.call_back, str(job_id), "ocr.completed", data)
    assert late.status == 202
    [delivery] = _deliveries(settings)
    processed = await _process(WEBHOOK_PROCESS, platform, delivery["job_id"])
    assert processed.result["outcome"] == "late"
    still = await api.get(f"/api/v1/scans/{scan_id}/reading", headers=cast.alice.headers)
    assert still.json()["code"] == "ocr_provider_timeout"


async def test_the_client_tells_a_fault_worth_retrying_from_a_refusal(provider):
    page = sample(0).data
    quick = {"tries": 1, "timeout_seconds": 5.0}
    closed = f"http://127.0.0.1:{free_port()}/v1/read"
    with pytest.raises(OcrUnavailable):  # connection refused
        await HttpOcrProvider(closed, TOKEN, **quick).submit(uuid.uuid4(), [page])
    for status in (503, 429):
        provider.unavailable(1, status)
        with pytest.raises(OcrUnavailable):
            await HttpOcrProvider(provider.url, TOKEN, **quick).submit(uuid.uuid4(), [page])
    with pytest.raises(PermanentFailure) as refused:  # our token
        await HttpOcrProvider(provider.url, "not-the-token", **quick).submit(uuid.uuid4(), [page])
    assert refused.value.code == "ocr_provider_refused"
    assert provider.refused == [503, 429, 401] and provider.requests == []
    provider.mode = "silent"
    reference = uuid.uuid4()
    await HttpOcrProvider(provider.url, TOKEN, **quick).submit(reference, [page, page])
    assert provider.requests == [(str(reference), 2)]


async def test_a_provider_down_is_retried_then_the_reading_fails_visibly(
    api, platform, cast, settings, provider
):
    provider.unavailable(1000)
    scan_id = await _stored(api, platform, cast.alice, cast.alice.id, sample(5).data)
    job_id = reading_job_of(settings.database_url, scan_id)

    job = await run_scan_read(platform, job_id)
    assert job.status is JobStatus.RETRYING
    assert job.error.code == "ocr_unavailable"
    for _ in range(job.max_attempts - 1):
        due_now = "UPDATE jobs SET run_after = now() - interval '1 second' WHERE id = %s"
        rows(settings.database_url, due_now + " RETURNING id", (job_id,))
        job = await run_scan_read(platform, job_id)

    assert job.status is JobStatus.FAILED
    assert set(provider.refused) == {503} and provider.requests == []
    seen = await api.get(f"/api/v1/jobs/{job_id}", headers=cast.alice.headers)
    assert (seen.json()["status"], seen.json()["error"]["code"]) == ("failed", "ocr_unavailable")
    reading = await api.get(f"/api/v1/scans/{scan_id}/reading", headers=cast.alice.headers)
    assert reading.json()["code"] == "ocr_unavailable"


async def test_a_provider_503_first_is_retried_then_takes_the_scan(
    api, platform, cast, settings, provider
):
    provider.mode = "silent"
    provider.unavailable(3)  # more than the client's quick tries: the job's schedule retries
    scan_id = await _stored(api, platform, cast.alice, cast.alice.id, sample(5).data)
    job_id = reading_job_of(settings.database_url, scan_id)

    job = await run_scan_read(platform, job_id)
    assert job.status is JobStatus.RETRYING
    rows(
        settings.database_url,
        "UPDATE jobs SET run_after = now() WHERE id = %s RETURNING id",
        (job_id,),
    )
    job = await run_scan_read(platform, job_id)

    assert job.status is JobStatus.SUCCEEDED, job.error
    assert job.attempts == 2
    assert provider.refused == [503, 503, 503] and provider.requests == [(str(job_id), 1)]


async def test_a_provider_refusing_the_request_fails_the_reading_at_once(
    api, platform, cast, settings, provider
):
    provider.mode = "refuse"
    scan_id = await _stored(api, platform, cast.alice, cast.alice.id, sample(5).data)
    job_id = reading_job_of(settings.database_url, scan_id)

    job = await run_scan_read(platform, job_id)

    assert job.status is JobStatus.FAILED and job.attempts == 1
    assert job.error.code == "ocr_provider_refused"
    reading = await api.get(f"/api/v1/scans/{scan_id}/reading", headers=cast.alice.headers)
    assert reading.json()["code"] == "ocr_provider_refused"


async def test_the_providers_failure_report_and_an_unknown_reference(
    api, platform, cast, settings, provider, callback_api
):
    provider.mode = "silent"
    scan_id, job_id = await _sent(api, platform, cast, settings, provider, sample(5).data)

    data = {"reference": str(job_id), "code": "unreadable"}
    await asyncio.to_thread(provider.call_back, str(job_id), "ocr.failed", data)
    stranger = str(uuid.uuid4())
    await asyncio.to_thread(provider.call_back, stranger, "ocr.failed", {"reference": stranger})
    failure, unknown = _deliveries(settings)

    assert (await _process(WEBHOOK_PROCESS, platform, failure["job_id"])).result[
        "outcome"
    ] == "failed"
    reading = await api.get(f"/api/v1/scans/{scan_id}/reading", headers=cast.alice.headers)
    assert reading.json()["code"] == "ocr_provider_failed"
    refused = await _process(WEBHOOK_PROCESS, platform, unknown["job_id"])
    assert refused.status is JobStatus.FAILED and refused.error.code == "unknown_reference"
    [marked] = rows(
        settings.database_url, "SELECT * FROM webhook_deliveries WHERE id = %s", (unknown["id"],)
    )
    assert (marked["status"], marked["outcome"]) == ("failed", "unknown_reference")
