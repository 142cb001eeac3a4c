"""Accepting an upload of any kind as a job: one use case, two ways in.

A kind stored as the client sent it (a record: a blob the client encrypted) is
streamed into staging as it arrives, in the transaction that creates its job,
never whole in memory. A kind we encrypt (a document: a plaintext PDF) is
collected up to its limit and checked whole before any transaction opens (no
connection is held while a PDF is parsed), then encrypted into staging. Either
way the form is checked by the kind (422 naming the field), the caller must
stand to the patient as the kind's upload policy says (404 otherwise), and a
refusal at any point rolls everything back: nothing staged, no job. The job is
sent to the workers after the commit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from domain.auditing import AuditContext
from domain.clock import Clock
from domain.files.encryption import stage_encrypted
from domain.files.ports import ContentCipher, PdfInspector, UnitOfWork
from domain.files.staging import StagingWriter
from domain.files.submission import NewUpload, submit_upload
from domain.files.uploads import ReceiveForm, UploadMeter
from domain.jobs.ports import MessageSender, Submission
from domain.jobs.submit import send_submitted
from domain.patients.access import authorize_patient
from domain.policies import Access
from domain.sealing import Cipher
from domain.transactions import UnitOfWorkFactory

if TYPE_CHECKING:
    from domain.files.kind import FileKind

# Writes the upload's bytes into the staging tables of a transaction; returns what it staged.
Stage = Callable[[UnitOfWork], Awaitable[NewUpload]]


async def upload_file(
    kind: FileKind,
    access: Access,
    audit: AuditContext,
    receive: ReceiveForm,
    idempotency_key: str | None,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    sender: MessageSender,
    cipher: Cipher,
    clock: Clock,
    content_cipher: ContentCipher,
    pdf: PdfInspector,
) -> Submission:
    """Stage the upload and create its ``<kind>.store`` job, all in one transaction."""
    if kind.encryption is None:
        stage = _as_sent(kind, receive)
    else:
        stage = await _checked_in_the_clear(kind, receive, content_cipher, pdf)
    async with uow_factory() as uow:
        upload = await stage(uow)
        await authorize_patient(uow, access, upload.form.patient_id)
        submission = await submit_upload(
            uow, kind, access, audit, upload, idempotency_key, cipher=cipher, clock=clock
        )
    await send_submitted(sender, submission)
    return submission


def _as_sent(kind: FileKind, receive: ReceiveForm) -> Stage:
    """The request read in the transaction, the file streamed into staging as it arrives."""

    async def stage(uow: UnitOfWork) -> NewUpload:
        staging = StagingWriter(uow.uploads, kind.accepts.max_bytes, "file")
        form = kind.read_form(await receive(staging.write))
        staged = await staging.finish()
        return NewUpload(form=form, staged=staged, details=form.details, sent_sha256=staged.sha256)

    return stage


async def _checked_in_the_clear(
    kind: FileKind, receive: ReceiveForm, content_cipher: ContentCipher, pdf: PdfInspector
) -> Stage:
    """The request read and the file checked whole, now; its encryption into staging, later,
    in the transaction."""
    assert kind.encryption is not None
    encryption = kind.encryption
    plaintext = bytearray()
    meter = UploadMeter(kind.accepts.max_bytes, "file")

    async def collect(data: bytes) -> None:
        meter.count(data)
        plaintext.extend(data)

    form = kind.read_form(await receive(collect))
    facts = await encryption.check(pdf, bytes(plaintext))

    async def stage(uow: UnitOfWork) -> NewUpload:
        # room for the cipher's header and a tag per segment
        staging = StagingWriter(uow.uploads, 2 * kind.accepts.max_bytes, "encrypted file")
        staged, data_key = await stage_encrypted(staging, content_cipher, bytes(plaintext))
        details = {**form.details, **facts, "size_bytes": meter.size, encryption.key: data_key}
        # the plaintext's hash: the ciphertext is new every time
        return NewUpload(form=form, staged=staged, details=details, sent_sha256=meter.sha256)

    return stage
