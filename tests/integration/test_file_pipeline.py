"""The file pipeline on the real services, across the change to details sealed once: uploads
staged before it still store, staged ones are covered by key rotation, and migration 0009
goes down only when nothing it made room for would be lost."""

from __future__ import annotations

import uuid

import msgspec
import pytest
import sqlalchemy
from alembic import command

from domain.auditing import SYSTEM
from domain.documents.model import DocumentDetails
from domain.phi.columns import (
    DOCUMENT_DATA_KEY,
    STAGED_RECORD_DESCRIPTION,
    UPLOAD_DETAILS,
)
from domain.phi.rotation import rotate_keys
from domain.records.model import RecordDetails, RecordType
from tests.conftest import TEST_PHI_KEYS
from tests.support.api import api_client
from tests.support.databases import alembic_config
from tests.support.pdfs import valid_pdf
from tests.support.platform import running_services
from tests.support.records import (
    blob,
    job_id_of,
    store_document,
    store_record,
    upload_document,
    upload_record,
)
from tests.support.rows import rows

OLD, ACTIVE = "test-k1", "test-k2"


@pytest.fixture
def platform_settings(settings, ipfs_api_url):
    """The API and the platform seal under the old key; rotation moves to the active one."""
    return msgspec.structs.replace(settings, ipfs_api_url=ipfs_api_url, phi_active_key_id=OLD)


async def staged_upload(platform, job_id: uuid.UUID):
    [row] = rows(
        platform.settings.database_url, "SELECT id FROM uploads WHERE job_id = %s", (job_id,)
    )
    async with platform.uow() as uow:
        return await uow.uploads.get(row["id"])


def stage_as_before(platform, upload_id: uuid.UUID, details: msgspec.Struct) -> None:
    """Rewrite a staged upload as the API staged it before migration 0009: every detail sealed
    together, as JSON, in ``details_sealed``, and nothing in the clear or in the twin columns."""
    sealed = platform.cipher.seal(msgspec.json.encode(details), UPLOAD_DETAILS.context(upload_id))
    rows(
        platform.settings.database_url,
        """
        UPDATE uploads SET details_sealed = %s, details_key_id = %s, public_details = NULL,
            records_description_sealed = NULL, records_description_key_id = NULL,
            documents_filename_sealed = NULL, documents_filename_key_id = NULL,
            documents_data_key_sealed = NULL, documents_data_key_key_id = NULL
        WHERE id = %s RETURNING id
        """,
        (sealed.blob, sealed.key_id, upload_id),
    )


async def test_a_record_staged_before_details_were_sealed_once_still_stores(api, platform, cast):
    job_id = job_id_of(await upload_record(api, cast.alice.headers, cast.alice.id, blob(300)))
    upload = await staged_upload(platform, job_id)
    before = RecordDetails(record_type=RecordType.IMAGING, description="Chest X-ray, PA view")
    stage_as_before(platform, upload.id, before)

    job = await store_record(platform, job_id)

    record_id = job.result["recordId"]
    read = (await api.get(f"/api/v1/records/{record_id}", headers=cast.alice.headers)).json()
    assert (read["recordType"], read["description"]) == ("IMAGING", "Chest X-ray, PA view")
    content = await api.get(f"/api/v1/records/{record_id}/content", headers=cast.alice.headers)
    assert content.content == blob(300)


async def test_a_document_staged_before_details_were_sealed_once_still_stores(api, platform, cast):
    pdf = valid_pdf(pages=2)
    response = await upload_document(api, cast.alice.headers, cast.alice.id, pdf, "scan.pdf")
    job_id = job_id_of(response)
    upload = await staged_upload(platform, job_id)
    data_key = platform.cipher.open(
        upload.sealed["documents.data_key"], DOCUMENT_DATA_KEY.context(upload.id)
    )
    before = DocumentDetails(
        filename="old.pdf", data_key=data_key, size_bytes=len(pdf), page_count=2
    )
    stage_as_before(platform, upload.id, before)

    job = await store_document(platform, job_id)

    document_id = job.result["documentId"]
    [listed] = (await api.get("/api/v1/documents", headers=cast.alice.headers)).json()["items"]
    assert (listed["filename"], listed["pageCount"]) == ("old.pdf", 2)
    download = await api.get(f"/api/v1/documents/{document_id}/content", headers=cast.alice.headers)
    assert download.content == pdf


async def test_a_staged_upload_is_resealed_by_rotation_and_stores_once_the_old_key_is_gone(
    api, platform, platform_settings, cast
):
    job_id = job_id_of(await upload_record(api, cast.alice.headers, cast.alice.id, blob(40)))
    upload = await staged_upload(platform, job_id)
    assert upload.sealed["records.description"].key_id == OLD
    rotated = msgspec.structs.replace(platform_settings, phi_active_key_id=ACTIVE)
    async with running_services(rotated) as active:
        report = await rotate_keys(active.uow, active.cipher, SYSTEM)
    assert report.resealed["uploads.records_description"] == 1 and report.unreadable == {}

    retired = msgspec.structs.replace(rotated, phi_keys={ACTIVE: TEST_PHI_KEYS[ACTIVE]})
    async with running_services(retired) as later, api_client(retired) as later_api:
        job = await store_record(later, job_id)
        record_id = job.result["recordId"]
        read = await later_api.get(f"/api/v1/records/{record_id}", headers=cast.alice.headers)

    assert read.json()["description"] == "Lipid panel, fasting"
    [row] = rows(
        platform_settings.database_url,
        "SELECT description_key_id FROM records WHERE id = %s",
        (record_id,),
    )
    assert row["description_key_id"] == ACTIVE


async def test_0009_goes_down_only_with_no_upload_staged_in_its_form(api, platform, cast):
    database_url = platform.settings.database_url
    config = alembic_config(database_url)
    job_id = job_id_of(await upload_record(api, cast.alice.headers, cast.alice.id, blob(10)))
    column = STAGED_RECORD_DESCRIPTION.sealed_column

    command.downgrade(config, "0009")  # each revision goes down in its own transaction
    with pytest.raises(sqlalchemy.exc.DBAPIError, match="let the jobs finish first"):
        command.downgrade(config, "0008")
    assert rows(database_url, f"SELECT count({column}) AS n FROM uploads")[0]["n"] == 1

    command.upgrade(config, "head")  # the storing job runs on today's schema
    await store_record(platform, job_id)
    command.downgrade(config, "0008")
    command.upgrade(config, "head")
    assert rows(database_url, "SELECT count(*) AS n FROM records")[0]["n"] == 1
