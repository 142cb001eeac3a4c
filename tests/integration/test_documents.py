"""The documents portal end to end: PDFs checked, encrypted before IPFS, downloaded decrypted."""

from __future__ import annotations

import msgspec
import pytest

from domain.documents.model import MAX_DOCUMENT_BYTES
from domain.jobs.model import JobStatus
from tests.support.api import assert_problem
from tests.support.pdfs import (
    encrypted_pdf,
    large_pdf,
    not_a_pdf,
    pdf_with_javascript,
    png_image,
    valid_pdf,
)
from tests.support.records import job_id_of, store_document, upload_document
from tests.support.rows import audit_events, rows


@pytest.fixture
def platform_settings(settings, ipfs_api_url):
    return msgspec.structs.replace(settings, ipfs_api_url=ipfs_api_url)


async def stored(api, platform, member, patient_id, pdf: bytes, name: str = "blood-test.pdf"):
    job_id = job_id_of(await upload_document(api, member.headers, patient_id, pdf, name))
    job = await store_document(platform, job_id)
    assert job.status is JobStatus.SUCCEEDED, job.error
    return job


async def test_upload_then_download_gives_back_the_same_pdf(api, platform, cast):
    pdf = valid_pdf(pages=3, text_size=20_000)

    job = await stored(api, platform, cast.alice, cast.alice.id, pdf)

    document_id = job.result["documentId"]
    listed = await api.get("/api/v1/documents", headers=cast.alice.headers)
    [item] = listed.json()["items"]
    assert item["id"] == document_id
    assert item["filename"] == "blood-test.pdf"
    assert item["pageCount"] == 3
    assert item["sizeBytes"] == len(pdf)
    download = await api.get(
        f"/api/v1/documents/{document_id}/content", headers=cast.chantha.headers
    )
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/pdf"
    assert download.content == pdf


async def test_only_ciphertext_reaches_ipfs_and_the_database(api, platform, cast, settings):
    pdf = valid_pdf(pages=1, text_size=5_000)

    job = await stored(api, platform, cast.alice, cast.alice.id, pdf, name="hiv-test.pdf")

    stored_bytes = b"".join([piece async for piece in platform.content.cat(job.result["cid"])])
    assert b"%PDF" not in stored_bytes
    assert pdf[200:260] not in stored_bytes
    assert len(stored_bytes) > len(pdf)  # the header and a tag per segment
    [row] = rows(
        settings.database_url,
        "SELECT filename_sealed, data_key_key_id FROM documents WHERE id = %s",
        (job.result["documentId"],),
    )
    assert b"hiv-test" not in bytes(row["filename_sealed"])
    assert row["data_key_key_id"] == settings.phi_active_key_id


@pytest.mark.parametrize("payload", [not_a_pdf(), png_image()], ids=["text", "png"])
async def test_anything_but_a_pdf_is_415_even_named_pdf(api, cast, settings, payload):
    response = await upload_document(api, cast.alice.headers, cast.alice.id, payload, "scan.pdf")

    problem = assert_problem(response, 415)
    assert "PDF" in problem["detail"]
    assert rows(settings.database_url, "SELECT count(*) AS n FROM jobs")[0]["n"] == 0


@pytest.mark.parametrize(
    ("payload", "reason"),
    [(encrypted_pdf(), "encrypted"), (pdf_with_javascript(), "JavaScript")],
    ids=["encrypted", "javascript"],
)
async def test_an_encrypted_pdf_or_one_with_javascript_is_400_saying_why(
    api, cast, settings, payload, reason
):
    response = await upload_document(api, cast.alice.headers, cast.alice.id, payload, "a.pdf")

    problem = assert_problem(response, 400)
    assert reason in problem["detail"]
    assert rows(settings.database_url, "SELECT count(*) AS n FROM upload_chunks")[0]["n"] == 0


async def test_a_pdf_over_10_mb_is_413(api, cast):
    response = await upload_document(
        api, cast.alice.headers, cast.alice.id, large_pdf(MAX_DOCUMENT_BYTES + 1), "big.pdf"
    )

    assert_problem(response, 413)


async def test_a_pdf_of_exactly_10_mb_is_accepted(api, cast):
    response = await upload_document(
        api, cast.alice.headers, cast.alice.id, large_pdf(MAX_DOCUMENT_BYTES), "big.pdf"
    )

    assert response.status_code == 202


async def test_a_deleted_document_is_gone_and_audited(api, platform, cast, settings):
    job = await stored(api, platform, cast.alice, cast.alice.id, valid_pdf())
    document_id = job.result["documentId"]

    deleted = await api.delete(f"/api/v1/documents/{document_id}", headers=cast.alice.headers)

    assert deleted.status_code == 204
    gone = await api.get(f"/api/v1/documents/{document_id}/content", headers=cast.alice.headers)
    assert_problem(gone, 404)
    assert (await api.get("/api/v1/documents", headers=cast.alice.headers)).json()["items"] == []
    assert len(audit_events(settings.database_url, "document.delete")) == 1


async def test_an_altered_ciphertext_is_refused_not_served(api, platform, cast, settings):
    job = await stored(api, platform, cast.alice, cast.alice.id, valid_pdf())
    other = await stored(api, platform, cast.alice, cast.alice.id, valid_pdf(pages=2))
    # point the first document at the second's ciphertext: it was sealed for another id
    rows(
        settings.database_url,
        "UPDATE documents SET cid = %s WHERE id = %s RETURNING id",
        (other.result["cid"], job.result["documentId"]),
    )

    response = await api.get(
        f"/api/v1/documents/{job.result['documentId']}/content", headers=cast.alice.headers
    )

    # a stored document that fails its integrity check is our fault: a 500, never the bytes
    assert response.status_code == 500
    assert b"%PDF" not in response.content
