"""Prescription scans as a kind of patient file: JPEG, PNG, HEIC and PDF accepted (by their
bytes), encrypted before the content store, downloaded decrypted; anything else refused."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from domain.jobs.model import JobStatus
from domain.scans.files import MAX_SCAN_BYTES
from tests.support.api import assert_problem
from tests.support.pdfs import encrypted_pdf, not_a_pdf, valid_pdf
from tests.support.prescription_images import sample
from tests.support.records import job_id_of
from tests.support.rows import audit_events, rows
from tests.support.scans import store_scan, upload_scan


@pytest.fixture
def platform_settings(settings):
    """The embedded block store keeps the ciphertext (no IPFS node needed for scans)."""
    return settings


def heic_image() -> bytes:
    from pillow_heif import from_pillow

    out = io.BytesIO()
    from_pillow(Image.new("RGB", (64, 48), "white")).save(out, quality=60)
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "media_type", "pages"),
    [
        (sample(3, degraded=True).data, "image/jpeg", 1),
        (sample(4).data, "image/png", 1),
        (heic_image(), "image/heic", 1),
        (valid_pdf(pages=2), "application/pdf", 2),
    ],
    ids=["jpeg", "png", "heic", "pdf"],
)
async def test_each_type_is_stored_encrypted_and_given_back(
    api, platform, cast, settings, data, media_type, pages
):
    response = await upload_scan(api, cast.alice.headers, cast.alice.id, data, "whatever.bin")
    assert response.json()["status"] == "queued"
    job = await store_scan(platform, job_id_of(response))

    assert job.status is JobStatus.SUCCEEDED, job.error
    scan_id = job.result["scanId"]
    [item] = (await api.get("/api/v1/scans", headers=cast.alice.headers)).json()["items"]
    assert (item["id"], item["mediaType"], item["pageCount"]) == (scan_id, media_type, pages)
    assert item["sizeBytes"] == len(data)
    stored = b"".join([piece async for piece in platform.content.cat(job.result["cid"])])
    assert data[:64] not in stored and data[-64:] not in stored
    [row] = rows(
        settings.database_url, "SELECT data_key_key_id FROM scans WHERE id = %s", (scan_id,)
    )
    assert row["data_key_key_id"] == settings.phi_active_key_id
    # the connected doctor downloads it
    download = await api.get(f"/api/v1/scans/{scan_id}/content", headers=cast.chantha.headers)
    assert download.status_code == 200
    assert download.content == data
    assert len(audit_events(settings.database_url, "scan.upload")) == 1


@pytest.mark.parametrize("data", [not_a_pdf(), b"GIF89a" + b"\x00" * 64], ids=["text", "gif"])
async def test_anything_else_is_415(api, cast, settings, data):
    response = await upload_scan(api, cast.alice.headers, cast.alice.id, data, "rx.jpg")

    problem = assert_problem(response, 415)
    assert "JPEG, PNG, HEIC or PDF" in problem["detail"]
    assert rows(settings.database_url, "SELECT count(*) AS n FROM jobs")[0]["n"] == 0


@pytest.mark.parametrize(
    ("data", "reason"),
    [(sample(5).data[:5000], "incomplete"), (encrypted_pdf(), "encrypted")],
    ids=["cut-short-png", "encrypted-pdf"],
)
async def test_a_damaged_image_or_a_refused_pdf_is_400(api, cast, settings, data, reason):
    response = await upload_scan(api, cast.alice.headers, cast.alice.id, data)

    problem = assert_problem(response, 400)
    assert reason in problem["detail"]
    assert rows(settings.database_url, "SELECT count(*) AS n FROM upload_chunks")[0]["n"] == 0


async def test_a_scan_over_10_mb_is_413(api, cast):
    too_big = b"\xff\xd8\xff\xe0" + b"\x00" * (MAX_SCAN_BYTES - 2) + b"\xff\xd9"

    assert_problem(await upload_scan(api, cast.alice.headers, cast.alice.id, too_big), 413)


async def test_an_unrelated_doctor_cannot_upload_for_the_patient(api, cast):
    response = await upload_scan(api, cast.dararith.headers, cast.alice.id, sample(6).data)

    assert_problem(response, 404)
