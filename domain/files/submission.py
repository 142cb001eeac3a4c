"""The last step of every upload: the staged bytes become a job, in the staging transaction.

The job's payload names the upload only. What the upload will become waits in
its row: the public details in the clear, each PHI detail sealed once for its
file's column (domain/files/details.py), sealed here and only when the job is
new. An idempotent replay finds the first job, and the bytes this request staged
are dropped again.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import msgspec

from domain.auditing import AuditContext, AuditEntry
from domain.clock import Clock
from domain.errors import ValidationFailed
from domain.files.details import seal_details
from domain.files.ports import UnitOfWork
from domain.files.uploads import StagedBytes, StagedUpload, UploadForm
from domain.jobs.model import Job, NewJob
from domain.jobs.ports import Submission
from domain.jobs.submit import canonical_request, enqueue_job
from domain.policies import Access, user_uuid
from domain.sealing import Cipher

if TYPE_CHECKING:
    from domain.files.kind import FileKind


class NewUpload(msgspec.Struct, frozen=True, kw_only=True):
    form: UploadForm  # what the client's form said, checked
    staged: StagedBytes  # the bytes staged for the job (for a kind we encrypt: the ciphertext)
    details: dict[str, Any]  # all the file will hold: the form's and what the upload taught us
    sent_sha256: bytes  # of the bytes as sent: with the form, what makes two requests the same


def uploader_id(access: Access) -> uuid.UUID:
    caller = user_uuid(access.principal)
    if caller is None:  # an operator's token names no account: it cannot own an upload
        raise ValidationFailed("uploads need a signed-in user account", field="authorization")
    return caller


def _request(upload: NewUpload) -> bytes:
    """The command's content, compared (as a keyed hash, never kept) to tell a replay."""
    return canonical_request(
        {
            "patientId": str(upload.form.patient_id),
            "form": msgspec.to_builtins(upload.form.details),
            "sha256": upload.sent_sha256.hex(),
        }
    )


async def submit_upload(
    uow: UnitOfWork,
    kind: FileKind,
    access: Access,
    audit: AuditContext,
    upload: NewUpload,
    idempotency_key: str | None,
    *,
    cipher: Cipher,
    clock: Clock,
) -> Submission:
    uploader = uploader_id(access)
    staged = upload.staged
    new = NewJob(
        kind=kind.store_job,
        owner_id=access.principal.user_id,
        payload={"uploadId": str(staged.upload_id)},
        idempotency_key=idempotency_key,
        request=_request(upload),
    )

    async def write(uow: UnitOfWork, job: Job) -> None:
        if kind.admit is not None:  # only a new job counts: a replay is not a second upload
            await kind.admit(uow, upload.form.patient_id, clock.now())
        public, sealed = seal_details(kind, cipher, staged.upload_id, upload.details)
        await uow.uploads.add(
            StagedUpload(
                id=staged.upload_id,
                job_id=job.id,
                purpose=kind.name,
                patient_id=upload.form.patient_id,
                uploaded_by=uploader,
                size_bytes=staged.size,
                sha256=staged.sha256,
                public=public,
                sealed=sealed,
                created_at=clock.now(),
            )
        )
        entry = AuditEntry(
            action=f"{kind.name}.upload", resource_type=kind.name, resource_id=str(staged.upload_id)
        )
        await uow.audit.record(audit, entry)

    submission = await enqueue_job(uow, new, write)
    if not submission.created:  # an idempotent replay: the first request's bytes are kept
        await uow.uploads.discard(staged.upload_id)
    return submission
