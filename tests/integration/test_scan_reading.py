"""Reading a scan end to end on the real embedded engine: upload → scan.store → scan.read
(enqueued with the stored scan) → the reading, sealed at rest, reviewed through the API.
A blank page is a reading that found nothing; an engine that is down is retried, then
fails the job visibly. The draft confirmed: by a connected doctor, their prescription; by
the patient, their own record of the paper prescription (no doctor, the prescriber as
printed), which they activate themselves."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from domain.jobs.model import JobStatus
from domain.scans.ports import OcrUnavailable
from tests.support.api import assert_problem
from tests.support.medicines import seeded_medicine
from tests.support.pdfs import png_image
from tests.support.prescription_images import sample
from tests.support.records import job_id_of
from tests.support.rows import audit_events, rows
from tests.support.scans import (
    add_read_scan,
    reading_job_of,
    run_scan_read,
    store_scan,
    upload_scan,
)


@pytest.fixture
def platform_settings(settings):
    return settings


async def _stored(api, platform, member, patient_id, data: bytes) -> str:
    job = await store_scan(
        platform, job_id_of(await upload_scan(api, member.headers, patient_id, data))
    )
    assert job.status is JobStatus.SUCCEEDED, job.error
    return job.result["scanId"]


async def test_a_prescription_is_read_into_a_draft_a_connected_doctor_reviews(
    api, platform, cast, settings
):
    prescription = sample(1)  # a table layout, clean
    scan_id = await _stored(api, platform, cast.alice, cast.alice.id, prescription.data)
    job_id = reading_job_of(settings.database_url, scan_id)

    job = await run_scan_read(platform, job_id)

    assert job.status is JobStatus.SUCCEEDED, job.error
    assert job.result["foundNothing"] is False
    assert job.result["items"] == len(prescription.items)
    assert set(job.result) == {"scanId", "engine", "foundNothing", "items", "itemsToReview"}
    response = await api.get(f"/api/v1/scans/{scan_id}/reading", headers=cast.chantha.headers)
    assert response.status_code == 200, response.text
    draft = response.json()["draft"]
    assert draft["prescriber"]["value"] == prescription.prescriber
    assert draft["patientName"]["value"] == prescription.patient
    assert draft["date"]["value"] == prescription.date
    got = [
        (
            item["medicine"]["name"],
            item["strength"]["value"],
            item["doseAmount"]["value"],
            item["notation"],
        )
        for item in draft["items"]
    ]
    assert got == [(t.generic, t.strength, t.dose, t.notation) for t in prescription.items]
    assert all(item["medicine"]["medicineId"] for item in draft["items"])
    assert len(audit_events(settings.database_url, "scan.reading")) == 1
    # sealed at rest: no printed medicine name, patient or prescriber in the row
    [row] = rows(
        settings.database_url, "SELECT * FROM scan_readings WHERE scan_id = %s", (scan_id,)
    )
    sealed = bytes(row["reading_sealed"])
    for text in (prescription.patient, prescription.prescriber, prescription.items[0].printed):
        assert text.encode() not in sealed
    # the job's row holds ids and counts only
    [job_row] = rows(
        settings.database_url,
        "SELECT payload::text AS p, result::text AS r FROM jobs WHERE id = %s",
        (job_id,),
    )
    for text in (prescription.patient, prescription.items[0].generic):
        assert text not in job_row["p"] and text.lower() not in job_row["r"].lower()

    # the doctor confirms the reviewed items: a prescription, activated, schedules doses
    today = platform.clock.now().date().isoformat()
    items = [
        {
            "medicineId": item["medicine"]["medicineId"],
            "strength": item["strength"]["value"],
            "doseAmount": item["doseAmount"]["value"],
            "doseForm": item["doseForm"]["value"] or "tablet",
            "frequency": item["frequency"]["value"],
            "startDate": today,
            "durationDays": int(item["durationDays"]["value"] or 5),
        }
        for item in draft["items"]
    ]
    confirmed = await api.post(
        f"/api/v1/scans/{scan_id}/confirm", headers=cast.chantha.headers, json={"items": items}
    )
    assert confirmed.status_code == 201, confirmed.text
    prescription = confirmed.json()
    assert prescription["status"] == "draft"
    assert prescription["doctorId"] == str(cast.chantha.id)
    assert prescription["source"] == "scan"
    assert prescription["prescriberAsPrinted"] == sample(1).prescriber  # as read
    assert [i["schedule"]["notation"] for i in prescription["items"]] == [
        t.notation for t in sample(1).items
    ]
    again = await api.post(
        f"/api/v1/scans/{scan_id}/confirm", headers=cast.chantha.headers, json={"items": items}
    )
    assert_problem(again, 409)
    activated = await api.post(
        f"/api/v1/prescriptions/{prescription['id']}/activate", headers=cast.chantha.headers
    )
    assert activated.status_code == 200, activated.text
    doses = await api.get(f"/api/v1/patients/{cast.alice.id}/doses", headers=cast.alice.headers)
    assert doses.status_code == 200, doses.text
    assert doses.json()["items"]
    assert len(audit_events(settings.database_url, "scan.confirm")) == 1


async def test_a_blank_page_is_a_reading_that_found_nothing(api, platform, cast, settings):
    blank = io.BytesIO()
    Image.new("RGB", (800, 600), "white").save(blank, format="PNG")
    scan_id = await _stored(api, platform, cast.alice, cast.alice.id, blank.getvalue())

    job = await run_scan_read(platform, reading_job_of(settings.database_url, scan_id))

    assert job.status is JobStatus.SUCCEEDED, job.error
    assert job.result["foundNothing"] is True
    reading = (await api.get(f"/api/v1/scans/{scan_id}/reading", headers=cast.alice.headers)).json()
    assert reading["draft"]["items"] == []


class DownEngine:
    name = "embedded"

    async def read(self, page_png: bytes, page: int):
        raise OcrUnavailable()


async def test_an_engine_that_is_down_is_retried_then_fails_visibly(api, platform, cast, settings):
    scan_id = await _stored(api, platform, cast.alice, cast.alice.id, sample(2).data)
    job_id = reading_job_of(settings.database_url, scan_id)

    job = await run_scan_read(platform, job_id, ocr=DownEngine())
    assert job.status is JobStatus.RETRYING
    for _ in range(job.max_attempts - 1):
        due_now = (
            "UPDATE jobs SET run_after = now() - interval '1 second' WHERE id = %s RETURNING id"
        )
        rows(settings.database_url, due_now, (job_id,))  # its retry is due: no waiting
        job = await run_scan_read(platform, job_id, ocr=DownEngine())

    assert job.status is JobStatus.FAILED
    seen = await api.get(f"/api/v1/jobs/{job_id}", headers=cast.alice.headers)
    assert seen.json()["status"] == "failed"
    assert seen.json()["error"]["code"] == "ocr_unavailable"
    assert_problem(
        await api.get(f"/api/v1/scans/{scan_id}/reading", headers=cast.alice.headers), 404
    )


async def test_a_stranger_cannot_see_the_reading(api, platform, cast, settings):
    scan_id = await _stored(api, platform, cast.alice, cast.alice.id, sample(2).data)

    response = await api.get(f"/api/v1/scans/{scan_id}/reading", headers=cast.dararith.headers)

    assert_problem(response, 404)


def _item(medicine_id: str, today: str, **changes) -> dict:
    return {
        "medicineId": medicine_id,
        "strength": "500 mg",
        "doseAmount": "1",
        "doseForm": "tablet",
        "frequency": "BID",
        "startDate": today,
        "durationDays": 5,
    } | changes


async def test_a_patient_confirms_their_own_scan_into_a_record_they_activate(
    api, platform, cast, settings
):
    scan_id = await add_read_scan(platform, cast.alice.id, png_image(), prescriber="Dr. Sok Dara")
    paracetamol = await seeded_medicine(platform, "paracetamol")
    today = platform.clock.now().date().isoformat()
    body = {"items": [_item(paracetamol, today)], "prescriberAsPrinted": "Dr. Sok Dara, MD"}

    confirmed = await api.post(
        f"/api/v1/scans/{scan_id}/confirm", headers=cast.alice.headers, json=body
    )

    assert confirmed.status_code == 201, confirmed.text
    prescription = confirmed.json()
    assert prescription["status"] == "draft"
    assert prescription["source"] == "scan"
    assert prescription["doctorId"] is None  # no doctor of ours wrote it
    assert prescription["prescriberAsPrinted"] == "Dr. Sok Dara, MD"
    # the printed name is sealed at rest, bound to the prescription
    [row] = rows(
        settings.database_url,
        "SELECT doctor_id, source, prescriber_sealed FROM prescriptions WHERE id = %s",
        (prescription["id"],),
    )
    assert (row["doctor_id"], row["source"]) == (None, "scan")
    assert b"Sok Dara" not in bytes(row["prescriber_sealed"])
    [reading] = rows(
        settings.database_url,
        "SELECT prescription_id FROM scan_readings WHERE scan_id = %s",
        (scan_id,),
    )
    assert str(reading["prescription_id"]) == prescription["id"]
    assert len(audit_events(settings.database_url, "scan.confirm")) == 1
    # confirmed once: the connected doctor's confirmation comes too late
    again = await api.post(
        f"/api/v1/scans/{scan_id}/confirm",
        headers=cast.chantha.headers,
        json={"items": body["items"]},
    )
    assert_problem(again, 409)

    # the patient owns it: the connected doctor reads it but does not activate it
    url = f"/api/v1/prescriptions/{prescription['id']}"
    seen = await api.get(url, headers=cast.chantha.headers)
    assert seen.status_code == 200 and seen.json()["source"] == "scan"
    assert_problem(await api.post(f"{url}/activate", headers=cast.chantha.headers), 404)
    activated = await api.post(f"{url}/activate", headers=cast.alice.headers)
    assert activated.status_code == 200, activated.text
    assert activated.json()["status"] == "active"
    # doses scheduled as for any prescription; no "your doctor shared" e-mail to herself
    doses = await api.get(f"/api/v1/patients/{cast.alice.id}/doses", headers=cast.alice.headers)
    assert doses.status_code == 200, doses.text
    assert {dose["prescriptionId"] for dose in doses.json()["items"]} == {prescription["id"]}
    assert rows(settings.database_url, "SELECT id FROM jobs WHERE kind = 'email.send'") == []
    cancelled = await api.post(f"{url}/cancel", headers=cast.alice.headers)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"


async def test_the_printed_prescriber_is_kept_as_read_unless_the_confirmer_says(
    api, platform, cast, settings
):
    paracetamol = await seeded_medicine(platform, "paracetamol")
    today = platform.clock.now().date().isoformat()
    as_read = await add_read_scan(platform, cast.alice.id, png_image(), prescriber="Dr. Lim Bora")
    none_legible = await add_read_scan(
        platform, cast.alice.id, png_image(), prescriber="Dr. Lim Bora"
    )
    # bad items: 422 naming the item, nothing written, the draft still open
    refused = await api.post(
        f"/api/v1/scans/{as_read}/confirm",
        headers=cast.alice.headers,
        json={"items": [_item(paracetamol, today, frequency="now and then")]},
    )
    assert_problem(refused, 422)
    assert rows(settings.database_url, "SELECT id FROM prescriptions") == []

    kept = await api.post(
        f"/api/v1/scans/{as_read}/confirm",
        headers=cast.alice.headers,
        json={"items": [_item(paracetamol, today)]},
    )
    blank = await api.post(
        f"/api/v1/scans/{none_legible}/confirm",
        headers=cast.alice.headers,
        json={"items": [_item(paracetamol, today)], "prescriberAsPrinted": "  "},
    )
    by_doctor = await api.post(
        f"/api/v1/scans/{await add_read_scan(platform, cast.alice.id, png_image())}/confirm",
        headers=cast.chantha.headers,
        json={"items": [_item(paracetamol, today)]},
    )

    assert kept.status_code == 201, kept.text
    assert kept.json()["prescriberAsPrinted"] == "Dr. Lim Bora"
    assert blank.status_code == 201, blank.text
    assert blank.json()["prescriberAsPrinted"] is None
    assert by_doctor.status_code == 201, by_doctor.text
    assert (by_doctor.json()["doctorId"], by_doctor.json()["source"]) == (
        str(cast.chantha.id),
        "scan",
    )
    assert by_doctor.json()["prescriberAsPrinted"] is None  # none was read, none given
