"""Scans read by the outside OCR provider with the platform's real processes (API, worker,
scheduler) and the suite's local provider (it reads with the embedded engine and signs its
callbacks): upload → scan.store → scan.read sends the pages → the signed callback →
webhook.process → the draft, confirmed by the doctor; a scan the provider never answers is
failed by the scheduler's scan.provider_timeout."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import msgspec
import pytest

from domain.adapters.scans.embedded import read_page
from tests.support.jobs import async_wait_until, jobs_of_kind
from tests.support.ocr_provider import SECRET, TOKEN, running_ocr_provider
from tests.support.platform import running_services
from tests.support.prescription_images import sample
from tests.support.processes import start_api, start_scheduler, start_worker
from tests.support.servers import free_port
from tests.support.users import add_cast, connect

pytestmark = pytest.mark.slow


async def test_the_running_platform_reads_scans_through_the_provider(
    settings, processes, log_dir
) -> None:
    port = free_port()
    callback = f"http://127.0.0.1:{port}/api/v1/webhooks/ocr"
    await asyncio.to_thread(read_page, sample(0).data)  # the provider's engine loaded
    with running_ocr_provider(callback) as provider:
        configured = msgspec.structs.replace(
            settings,
            ocr_engine="provider",
            ocr_provider_url=provider.url,
            ocr_provider_token=TOKEN,
            ocr_provider_timeout_seconds=45.0,  # a page takes seconds, more on a busy box
            ocr_provider_check_interval_seconds=0.5,
            webhook_secrets={"ocr": (SECRET,)},
        )
        async with running_services(configured) as services:
            cast = await add_cast(services)
            await connect(services, cast.alice.id, cast.chantha.id)
        processes.append(start_api(configured, log_dir, port))
        processes.append(start_worker(configured, log_dir))
        processes.append(start_scheduler(configured, log_dir))
        base = f"http://127.0.0.1:{port}/api/v1"
        async with httpx.AsyncClient(base_url=base, timeout=30) as api:
            prescription = sample(1)
            scan_id = await _upload(api, cast.alice.headers, cast.alice.id, prescription.data)

            async def read() -> bool:
                got = await api.get(f"/scans/{scan_id}/reading", headers=cast.alice.headers)
                return got.status_code == 200

            await async_wait_until(read, timeout=90, interval=1.0)
            response = await api.get(f"/scans/{scan_id}/reading", headers=cast.chantha.headers)
            draft = response.json()["draft"]
            assert response.json()["engine"] == "provider"
            assert [(i["medicine"]["name"], i["notation"]) for i in draft["items"]] == [
                (t.generic, t.notation) for t in prescription.items
            ]
            assert [c.status for c in provider.callbacks] == [202]
            items = [
                {
                    "medicineId": item["medicine"]["medicineId"],
                    "strength": item["strength"]["value"],
                    "doseAmount": item["doseAmount"]["value"],
                    "doseForm": item["doseForm"]["value"] or "tablet",
                    "frequency": item["frequency"]["value"],
                    "startDate": datetime.now(UTC).date().isoformat(),  # Alice's zone: UTC
                    "durationDays": int(item["durationDays"]["value"] or 5),
                }
                for item in draft["items"]
            ]
            confirmed = await api.post(
                f"/scans/{scan_id}/confirm", headers=cast.chantha.headers, json={"items": items}
            )
            assert confirmed.status_code == 201, confirmed.text

            # the provider goes quiet: the scheduler's sweep fails the scan, visibly
            provider.mode = "silent"
            quiet_id = await _upload(api, cast.alice.headers, cast.alice.id, sample(5).data)

            async def timed_out() -> bool:
                got = await api.get(f"/scans/{quiet_id}/reading", headers=cast.alice.headers)
                return got.json().get("code") == "ocr_provider_timeout"

            await async_wait_until(timed_out, timeout=120, interval=1.0)
            [sweep] = [
                job
                for job in jobs_of_kind(settings.database_url, "scan.provider_timeout")
                if job["status"] == "succeeded"
            ]
            assert sweep["result"] == {"timedOut": 1, "scanIds": [quiet_id]}


async def _upload(api: httpx.AsyncClient, headers, patient_id, data: bytes) -> str:
    uploaded = await api.post(
        "/scans",
        headers=headers,
        data={"patientId": str(patient_id)},
        files={"file": ("rx.png", data, "image/png")},
    )
    assert uploaded.status_code == 202, uploaded.text
    job_url = f"/jobs/{uploaded.json()['jobId']}"

    async def stored() -> bool:
        job = (await api.get(job_url, headers=headers)).json()
        return job["status"] == "succeeded"

    await async_wait_until(stored, timeout=60, interval=0.3)
    return (await api.get(job_url, headers=headers)).json()["result"]["scanId"]
