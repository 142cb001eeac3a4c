"""The file pipeline's upload and storing rules, for every kind, through in-memory fakes: who may
upload, refusals leave nothing, a replay stores nothing twice, details are sealed once."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable

import msgspec
import pytest

from domain.documents.kind import DOCUMENTS
from domain.documents.model import DocumentDetails
from domain.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    SealBroken,
    TransientFailure,
    ValidationFailed,
)
from domain.files.kind import FileKind
from domain.files.reading import file_content
from domain.files.upload import upload_file
from domain.files.uploads import StagedUpload
from domain.identity import Role
from domain.phi.columns import (
    DOCUMENT_DATA_KEY,
    DOCUMENT_FILENAME,
    RECORD_DESCRIPTION,
    UPLOAD_DETAILS,
)
from domain.records.kind import RECORDS
from domain.records.model import RecordDetails, RecordType
from tests.fakes.audit import audited
from tests.fakes.crypto import fake_pdf
from tests.fakes.pipeline import CALLER, FilePlatform, access, joined, receiving

BLOB = bytes(range(256)) * 40  # a client-encrypted record: opaque bytes
PDF = fake_pdf(pages=3)


@pytest.fixture
def platform() -> FilePlatform:
    return FilePlatform()


def record_form(patient, **fields: str) -> dict[str, str]:
    return {
        "patientId": patient.user_id,
        "recordType": "LAB_RESULT",
        "description": "Lipid panel",
        **fields,
    }


async def upload(platform, kind: FileKind, who, patient, *, key=None, data=None, **fields):
    """An upload of ``kind`` by ``who`` for ``patient`` under the kind's upload policy."""
    if kind is RECORDS:
        receive = receiving(record_form(patient, **fields), BLOB if data is None else data)
    else:
        form = {"patientId": patient.user_id, **fields}
        receive = receiving(form, PDF if data is None else data, "blood test.pdf")
    return await platform.cases.run(
        upload_file, kind, access(who, kind.policies.upload), CALLER, receive, key
    )


def nothing_kept(platform) -> bool:
    tables = ("uploads", "upload_chunks", "jobs", "audit_events", "records", "documents")
    return not any(platform.table(name) for name in tables) and platform.sender.sent == []


# --- who may upload --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [RECORDS, DOCUMENTS], ids=lambda kind: kind.name)
async def test_the_patient_and_a_connected_doctor_upload(platform, kind) -> None:
    patient = await platform.person(Role.PATIENT)
    doctor = await platform.person(Role.DOCTOR)
    await platform.connect(doctor, patient)

    for who in (patient, doctor):
        submission = await upload(platform, kind, who, patient)
        assert submission.created and submission.job.kind == f"{kind.name}.store"
        assert submission.job.payload == {"uploadId": str(submission.job.payload["uploadId"])}

    uploads = list(platform.table("uploads").values())
    assert {u.uploaded_by for u in uploads} == {
        uuid.UUID(patient.user_id),
        uuid.UUID(doctor.user_id),
    }
    assert {u.purpose for u in uploads} == {kind.name}
    assert [entry.action for entry in audited(platform.uow.database)] == [f"{kind.name}.upload"] * 2
    assert len(platform.sender.sent) == 2


@pytest.mark.parametrize("kind", [RECORDS, DOCUMENTS], ids=lambda kind: kind.name)
async def test_a_stranger_is_refused_as_if_the_patient_did_not_exist_and_nothing_is_kept(
    platform, kind
) -> None:
    patient = await platform.person(Role.PATIENT)
    other = await platform.person(Role.PATIENT)
    unconnected = await platform.person(Role.DOCTOR)

    for who in (other, unconnected):
        with pytest.raises(NotFound):
            await upload(platform, kind, who, patient)
    with pytest.raises(NotFound):  # a patient who does not exist, even for themself
        await upload(platform, kind, patient, await platform.person(Role.DOCTOR))

    assert nothing_kept(platform)


@pytest.mark.parametrize("kind", [RECORDS, DOCUMENTS], ids=lambda kind: kind.name)
async def test_an_admin_may_not_upload(platform, kind) -> None:
    patient = await platform.person(Role.PATIENT)

    with pytest.raises(Forbidden):
        await upload(platform, kind, await platform.person(Role.ADMIN), patient)

    assert nothing_kept(platform)


# --- refused uploads leave nothing -----------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "fields", "data", "refusal"),
    [
        (RECORDS, {"recordType": "XRAY"}, None, ValidationFailed),
        (RECORDS, {"description": "x" * 2001}, None, ValidationFailed),
        (RECORDS, {"patientId": "not-a-uuid"}, None, ValidationFailed),
        (RECORDS, {}, b"x" * (RECORDS.accepts.max_bytes + 1), PayloadTooLarge),
        (DOCUMENTS, {"patientId": "not-a-uuid"}, None, ValidationFailed),
        (DOCUMENTS, {}, b"just text", ValidationFailed),  # not a PDF: 415
        (DOCUMENTS, {}, fake_pdf(filler=b"/JavaScript"), BadRequest),
        (DOCUMENTS, {}, b"%PDF-" + b"x" * DOCUMENTS.accepts.max_bytes, PayloadTooLarge),
    ],
    ids=[
        "record-type",
        "record-description",
        "record-patient",
        "record-too-large",
        "document-patient",
        "document-not-a-pdf",
        "document-scripted",
        "document-too-large",
    ],
)
async def test_a_refused_upload_leaves_nothing(platform, kind, fields, data, refusal) -> None:
    patient = await platform.person(Role.PATIENT)

    with pytest.raises(refusal):
        await upload(platform, kind, patient, patient, data=data, **fields)

    assert nothing_kept(platform)


# --- idempotent replays ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", [RECORDS, DOCUMENTS], ids=lambda kind: kind.name)
async def test_a_replay_finds_the_first_job_and_stores_nothing_twice(platform, kind) -> None:
    patient = await platform.person(Role.PATIENT)

    first = await upload(platform, kind, patient, patient, key="scan-1")
    again = await upload(platform, kind, patient, patient, key="scan-1")
    result = await platform.run_store(kind, first.job.id)
    repeated = await platform.run_store(kind, first.job.id)  # an attempt that ran again

    assert again.job.id == first.job.id and not again.created
    assert len(platform.table("jobs")) == 1 and len(platform.sender.sent) == 1
    assert repeated == result
    assert len(platform.table(kind.table)) == 1
    assert platform.content.adds == 1
    assert platform.table("uploads") == {} and platform.table("upload_chunks") == {}


async def test_the_same_key_with_another_file_is_a_conflict_that_keeps_nothing_new(platform):
    patient = await platform.person(Role.PATIENT)
    await upload(platform, RECORDS, patient, patient, key="scan-1")

    with pytest.raises(Conflict) as refused:
        await upload(platform, RECORDS, patient, patient, key="scan-1", data=b"other bytes")

    assert refused.value.code == "idempotency_key_reused"
    assert len(platform.table("uploads")) == 1


# --- storing: details sealed once ------------------------------------------------------------


async def test_a_record_is_stored_as_sent_with_its_description_sealed_once(platform) -> None:
    patient = await platform.person(Role.PATIENT)
    submission = await upload(platform, RECORDS, patient, patient)
    upload_id = uuid.UUID(submission.job.payload["uploadId"])
    sealed_by_the_api = list(platform.cipher.sealed)

    result = await platform.run_store(RECORDS, submission.job.id)

    [record] = [row.file for row in platform.table("records").values()]
    assert result == {
        "recordId": str(upload_id),
        "cid": record.cid,
        "anchorStatus": "pending",
        "stellarTxHash": None,
    }
    assert record.id == upload_id and record.record_type is RecordType.LAB_RESULT
    assert platform.content.blobs[record.cid] == BLOB
    assert (record.size_bytes, record.sha256) == (len(BLOB), hashlib.sha256(BLOB).digest())
    # sealed once, by the API, for the record's own column; the job sealed and opened nothing
    assert sealed_by_the_api == [RECORD_DESCRIPTION.context(upload_id)]
    assert platform.cipher.sealed == sealed_by_the_api and platform.cipher.opened == []
    assert b"Lipid" not in record.description.blob
    opened = platform.cipher.open(record.description, RECORD_DESCRIPTION.context(record.id))
    assert opened == b"Lipid panel"


async def test_a_record_without_a_description_seals_nothing(platform) -> None:
    patient = await platform.person(Role.PATIENT)
    submission = await upload(platform, RECORDS, patient, patient, description="  ")

    await platform.run_store(RECORDS, submission.job.id)

    [row] = platform.table("records").values()
    assert row.file.description is None and platform.cipher.sealed == []


async def test_a_document_is_encrypted_before_staging_and_its_details_sealed_once(platform):
    patient = await platform.person(Role.PATIENT)
    submission = await upload(platform, DOCUMENTS, patient, patient)
    upload_id = uuid.UUID(submission.job.payload["uploadId"])
    [staged] = platform.table("uploads").values()
    staged_bytes = b"".join(platform.table("upload_chunks").values())

    result = await platform.run_store(DOCUMENTS, submission.job.id)

    [document] = [row.file for row in platform.table("documents").values()]
    assert result == {"documentId": str(upload_id), "cid": document.cid}
    assert PDF[:20] not in staged_bytes and PDF[:20] not in platform.content.blobs[document.cid]
    assert staged.public == {"page_count": 3, "size_bytes": len(PDF)}
    assert (document.size_bytes, document.page_count) == (len(PDF), 3)
    assert platform.cipher.sealed == [
        DOCUMENT_FILENAME.context(upload_id),
        DOCUMENT_DATA_KEY.context(upload_id),
    ]
    assert platform.cipher.opened == []
    assert document.filename == staged.sealed["documents.filename"]
    assert document.data_key == staged.sealed["documents.data_key"]


async def test_a_document_downloads_decrypted_and_a_swapped_ciphertext_does_not_open(platform):
    patient = await platform.person(Role.PATIENT)
    first = await upload(platform, DOCUMENTS, patient, patient)
    second = await upload(platform, DOCUMENTS, patient, patient, data=fake_pdf(pages=2))
    await platform.run_store(DOCUMENTS, first.job.id)
    await platform.run_store(DOCUMENTS, second.job.id)
    rows = {row.file.job_id: row for row in platform.table("documents").values()}
    document, other = rows[first.job.id].file, rows[second.job.id].file
    read = access(patient, "document.read")

    opened, pieces = await platform.cases.run(file_content, DOCUMENTS, read, CALLER, document.id)
    assert await joined(pieces) == PDF
    assert opened.details == {"filename": "blood test.pdf"}

    async with platform.uow() as uow:  # the first document's row now names the second's CID
        uow.files["documents"].row(document.id).file = msgspec.structs.replace(
            document, cid=other.cid
        )
    _, pieces = await platform.cases.run(file_content, DOCUMENTS, read, CALLER, document.id)
    with pytest.raises(SealBroken):
        await joined(pieces)


async def test_ipfs_down_fails_the_attempt_and_keeps_the_upload_for_a_retry(platform) -> None:
    patient = await platform.person(Role.PATIENT)
    submission = await upload(platform, RECORDS, patient, patient)
    platform.content.down = True

    with pytest.raises(TransientFailure):
        await platform.run_store(RECORDS, submission.job.id)

    assert platform.table("records") == {} and len(platform.table("uploads")) == 1
    platform.content.down = False
    await platform.run_store(RECORDS, submission.job.id)
    assert len(platform.table("records")) == 1 and platform.table("uploads") == {}


# --- uploads staged before details were sealed once ------------------------------------------


async def stage_as_before(
    platform, kind: FileKind, patient, before: Callable[[StagedUpload], msgspec.Struct]
):
    """An upload as the API staged it before: every detail (``before`` the staged upload)
    sealed together, as JSON, and nothing in the twin columns."""
    submission = await upload(platform, kind, patient, patient)
    async with platform.uow() as uow:
        staged = await uow.uploads.get(uuid.UUID(submission.job.payload["uploadId"]))
        details = msgspec.json.encode(before(staged))
        legacy = platform.cipher.seal(details, UPLOAD_DETAILS.context(staged.id))
        await uow.uploads.add(
            msgspec.structs.replace(staged, public=None, sealed={}, legacy=legacy)
        )
    platform.cipher.sealed.clear()
    return submission.job.id, staged.id


async def test_a_record_staged_before_sealing_once_still_stores(platform) -> None:
    patient = await platform.person(Role.PATIENT)
    before = RecordDetails(record_type=RecordType.IMAGING, description="Chest X-ray")
    job_id, _ = await stage_as_before(platform, RECORDS, patient, lambda staged: before)

    await platform.run_store(RECORDS, job_id)

    [record] = [row.file for row in platform.table("records").values()]
    assert record.record_type is RecordType.IMAGING
    context = RECORD_DESCRIPTION.context(record.id)
    assert platform.cipher.open(record.description, context) == b"Chest X-ray"
    assert platform.cipher.sealed == [context]  # converted: the one re-sealing left


async def test_a_document_staged_before_sealing_once_still_stores_and_downloads(platform):
    patient = await platform.person(Role.PATIENT)

    def before(staged: StagedUpload) -> DocumentDetails:
        sealed_key = staged.sealed["documents.data_key"]
        data_key = platform.cipher.open(sealed_key, DOCUMENT_DATA_KEY.context(staged.id))
        return DocumentDetails(
            filename="old.pdf", data_key=data_key, size_bytes=len(PDF), page_count=3
        )

    job_id, upload_id = await stage_as_before(platform, DOCUMENTS, patient, before)

    await platform.run_store(DOCUMENTS, job_id)

    read = access(patient, "document.read")
    opened, pieces = await platform.cases.run(file_content, DOCUMENTS, read, CALLER, upload_id)
    assert opened.details == {"filename": "old.pdf"} and await joined(pieces) == PDF
