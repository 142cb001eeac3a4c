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

from domain.auditing import AuditContext, AuditEntry
from domain.clock import Clock
from domain.documents.jobs import DOCUMENT_STORE
from domain.documents.model import (
    MAX_DOCUMENT_BYTES,
    DocumentDetails,
    DocumentQuery,
    StoredDocument,
    document_fields,
)
from domain.documents.ports import ContentCipher, PdfInspector, UnitOfWork
from domain.errors import NotFound, ValidationFailed
from domain.files.ports import ContentStore
from domain.files.staging import StagingWriter
from domain.files.submission import UploadJob, submit_upload
from domain.files.uploads import ReceiveForm, UploadMeter, UploadPurpose
from domain.jobs.ports import MessageSender, Submission
from domain.jobs.submit import send_submitted
from domain.patients.access import authorize_patient, authorize_patient_file, delete_patient_file
from domain.phi.columns import DOCUMENT_DATA_KEY, DOCUMENT_FILENAME
from domain.policies import Access, user_uuid
from domain.sealing import Cipher
from domain.transactions import UnitOfWorkFactory

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
    uow_factory: UnitOfWorkFactory[UnitOfWork],
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
        upload = UploadJob(
            kind=DOCUMENT_STORE,
            purpose=UploadPurpose.DOCUMENT,
            patient_id=fields.patient_id,
            details=DocumentDetails(
                filename=fields.filename,
                data_key=data_key,
                size_bytes=meter.size,
                page_count=page_count,
            ),
            request={
                "patientId": str(fields.patient_id),
                "filename": fields.filename,
                "sha256": meter.sha256.hex(),  # of the plaintext: the ciphertext is random
            },
        )
        submission = await submit_upload(
            uow, cipher, clock, access, audit, staged, upload, idempotency_key
        )
    await send_submitted(sender, submission)
    return submission


async def _authorized(uow: UnitOfWork, access: Access, document_id: uuid.UUID) -> StoredDocument:
    document = await uow.documents.get(document_id)
    owner = document.patient_id if document else None
    await authorize_patient_file(uow, access, owner, "document")
    if document is None:  # unreachable: authorize_patient_file refuses a missing one
        raise NotFound("document not found")
    return document


def _filename(cipher: Cipher, document: StoredDocument) -> str:
    return cipher.open(document.filename, DOCUMENT_FILENAME.context(document.id)).decode()


async def list_documents(
    uow_factory: UnitOfWorkFactory[UnitOfWork],
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
    uow_factory: UnitOfWorkFactory[UnitOfWork],
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
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
    access: Access,
    audit: AuditContext,
    document_id: uuid.UUID,
) -> None:
    async with uow_factory() as uow:
        await _authorized(uow, access, document_id)
        await delete_patient_file(uow, uow.documents, clock, access, audit, document_id, "document")
