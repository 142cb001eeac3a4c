"""The documents portal: PDFs checked, encrypted here, kept on IPFS; listed, downloaded, deleted.

A PDF arrives as plaintext. It is held in memory (at most 10 MB) only long
enough to be checked, then encrypted under a fresh data key as it is staged,
so staging, IPFS and every log only ever see ciphertext. The data key is
sealed by the PHI keyring, so rotating the keyring re-wraps it without
touching IPFS.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import msgspec

from domain.audit import AuditContext, AuditEntry
from domain.clock import Clock
from domain.documents import (
    MAX_DOCUMENT_BYTES,
    DocumentDetails,
    DocumentQuery,
    StoredDocument,
    document_fields,
)
from domain.errors import NotFound, ValidationFailed
from domain.jobs import DOCUMENT_STORE, Job, NewJob
from domain.patient_access import authorize_patient
from domain.phi import DOCUMENT_DATA_KEY, DOCUMENT_FILENAME, UPLOAD_DETAILS
from domain.policies import Access, user_uuid
from domain.ports import (
    Cipher,
    ContentCipher,
    ContentStore,
    MessageSender,
    PdfInspector,
    Submission,
    UnitOfWork,
    UnitOfWorkFactory,
)
from domain.record_service import uploader_id
from domain.submit import enqueue_job, request_hash, send_submitted
from domain.uploads import ReceiveForm, StagedUpload, StagingWriter, UploadMeter, UploadPurpose

ENCRYPT_PIECE_BYTES = 256 * 1024


class OpenedDocument(msgspec.Struct, frozen=True):
    document: StoredDocument
    filename: str


def _entry(action: str, document_id: uuid.UUID | None) -> AuditEntry:
    return AuditEntry(
        action=action,
        resource_type="document",
        resource_id=str(document_id) if document_id else None,
    )


async def _pieces(data: bytes) -> AsyncIterator[bytes]:
    view = memoryview(data)
    for start in range(0, len(view), ENCRYPT_PIECE_BYTES):
        yield bytes(view[start : start + ENCRYPT_PIECE_BYTES])


async def upload_document(
    uow_factory: UnitOfWorkFactory,
    sender: MessageSender,
    cipher: Cipher,
    content_cipher: ContentCipher,
    pdf: PdfInspector,
    clock: Clock,
    access: Access,
    audit: AuditContext,
    receive: ReceiveForm,
    idempotency_key: str | None,
) -> Submission:
    plaintext = bytearray()
    meter = UploadMeter(MAX_DOCUMENT_BYTES, "file")

    async def collect(data: bytes) -> None:
        meter.count(data)
        plaintext.extend(data)

    form = await receive(collect)
    fields = document_fields(form.fields, form.filename)
    page_count = await pdf.page_count(bytes(plaintext))
    uploader = uploader_id(access)
    async with uow_factory() as uow:
        await authorize_patient(uow, access, fields.patient_id)
        staging = StagingWriter(uow.uploads, 2 * MAX_DOCUMENT_BYTES, "encrypted file")
        data_key = content_cipher.new_data_key()
        context = str(staging.upload_id).encode()
        async for sealed_piece in content_cipher.encrypt(
            data_key, _pieces(bytes(plaintext)), context
        ):
            await staging.write(sealed_piece)
        staged = await staging.finish()
        new = NewJob(
            kind=DOCUMENT_STORE,
            owner_id=access.principal.user_id,
            payload={"uploadId": str(staged.upload_id)},
            idempotency_key=idempotency_key,
            request_hash=request_hash(
                {
                    "patientId": str(fields.patient_id),
                    "filename": fields.filename,
                    "sha256": meter.sha256.hex(),  # of the plaintext: the ciphertext is random
                }
            ),
        )

        async def write(uow: UnitOfWork, job: Job) -> None:
            details = DocumentDetails(
                filename=fields.filename,
                data_key=data_key,
                size_bytes=meter.size,
                page_count=page_count,
            )
            await uow.uploads.add(
                StagedUpload(
                    id=staged.upload_id,
                    job_id=job.id,
                    purpose=UploadPurpose.DOCUMENT,
                    patient_id=fields.patient_id,
                    uploaded_by=uploader,
                    size_bytes=staged.size,
                    sha256=staged.sha256,
                    details=cipher.seal(
                        msgspec.json.encode(details), UPLOAD_DETAILS.context(staged.upload_id)
                    ),
                    created_at=clock.now(),
                )
            )
            await uow.audit.record(audit, _entry("document.upload", staged.upload_id))

        submission = await enqueue_job(uow, new, write)
        if not submission.created:
            await uow.uploads.discard(staged.upload_id)
    await send_submitted(sender, submission)
    return submission


async def _authorized(uow: UnitOfWork, access: Access, document_id: uuid.UUID) -> StoredDocument:
    document = await uow.documents.get(document_id)
    if document is None:
        access.authorize(frozenset())
        raise NotFound("document not found")
    await authorize_patient(uow, access, document.patient_id, exists=True)
    return document


def _filename(cipher: Cipher, document: StoredDocument) -> str:
    return cipher.open(document.filename, DOCUMENT_FILENAME.context(document.id)).decode()


async def list_documents(
    uow_factory: UnitOfWorkFactory,
    cipher: Cipher,
    access: Access,
    audit: AuditContext,
    *,
    patient_id: uuid.UUID | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[OpenedDocument], str | None]:
    async with uow_factory() as uow:
        if patient_id is None:
            if access.principal.role != "patient":
                raise ValidationFailed("name the patient: patientId", field="patientId")
            patient_id = user_uuid(access.principal)
        await authorize_patient(uow, access, patient_id)
        page = await uow.documents.page(
            DocumentQuery(patient_id=patient_id, limit=limit, cursor=cursor)
        )
        await uow.audit.record(audit, _entry("document.list", patient_id))
    opened = [OpenedDocument(d, _filename(cipher, d)) for d in page.documents]
    return opened, page.next_cursor


async def download_document(
    uow_factory: UnitOfWorkFactory,
    cipher: Cipher,
    content_cipher: ContentCipher,
    content: ContentStore,
    access: Access,
    audit: AuditContext,
    document_id: uuid.UUID,
) -> tuple[OpenedDocument, AsyncIterator[bytes]]:
    """The document and its decrypted bytes (streamed; an altered ciphertext raises SealBroken)."""
    async with uow_factory() as uow:
        document = await _authorized(uow, access, document_id)
        await uow.audit.record(audit, _entry("document.download", document_id))
    data_key = cipher.open(document.data_key, DOCUMENT_DATA_KEY.context(document.id))
    # the upload's id is the document's: the ciphertext is bound to it
    plaintext = content_cipher.decrypt(
        data_key, content.cat(document.cid), str(document.id).encode()
    )
    return OpenedDocument(document, _filename(cipher, document)), plaintext


async def delete_document(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    access: Access,
    audit: AuditContext,
    document_id: uuid.UUID,
) -> None:
    async with uow_factory() as uow:
        await _authorized(uow, access, document_id)
        actor = user_uuid(access.principal)
        if actor is None or not await uow.documents.soft_delete(document_id, actor, clock.now()):
            raise NotFound("document not found")
        await uow.audit.record(audit, _entry("document.delete", document_id))
