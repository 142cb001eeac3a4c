"""The last step of every upload: the staged bytes become a job, in the staging transaction.

The job's payload names the upload only; what the upload will become (a
record's type and description, a document's name and data key) is PHI and is
sealed in the upload's row. An idempotent replay finds the first job, and the
bytes this request staged are dropped again.
"""

from __future__ import annotations

import uuid

import msgspec

from domain.auditing import AuditContext, AuditEntry
from domain.clock import Clock
from domain.errors import ValidationFailed
from domain.files.ports import UnitOfWork
from domain.files.uploads import StagedBytes, StagedUpload, UploadPurpose
from domain.jobs.model import Job, JobKind, NewJob
from domain.jobs.ports import Submission
from domain.jobs.submit import canonical_request, enqueue_job
from domain.phi.columns import UPLOAD_DETAILS
from domain.policies import Access, user_uuid
from domain.sealing import Cipher


class UploadJob(msgspec.Struct, frozen=True, kw_only=True):
    kind: JobKind
    purpose: UploadPurpose
    patient_id: uuid.UUID
    details: msgspec.Struct  # sealed into the upload's row
    request: dict[str, object]  # what makes two requests the same command (no PHI kept: hashed)


def uploader_id(access: Access) -> uuid.UUID:
    caller = user_uuid(access.principal)
    if caller is None:  # an operator's token names no account: it cannot own an upload
        raise ValidationFailed("uploads need a signed-in user account", field="authorization")
    return caller


async def submit_upload(
    uow: UnitOfWork,
    cipher: Cipher,
    clock: Clock,
    access: Access,
    audit: AuditContext,
    staged: StagedBytes,
    upload: UploadJob,
    idempotency_key: str | None,
) -> Submission:
    uploader = uploader_id(access)
    new = NewJob(
        kind=upload.kind,
        owner_id=access.principal.user_id,
        payload={"uploadId": str(staged.upload_id)},
        idempotency_key=idempotency_key,
        request=canonical_request(upload.request),
    )

    async def write(uow: UnitOfWork, job: Job) -> None:
        sealed = cipher.seal(
            msgspec.json.encode(upload.details), UPLOAD_DETAILS.context(staged.upload_id)
        )
        await uow.uploads.add(
            StagedUpload(
                id=staged.upload_id,
                job_id=job.id,
                purpose=upload.purpose,
                patient_id=upload.patient_id,
                uploaded_by=uploader,
                size_bytes=staged.size,
                sha256=staged.sha256,
                details=sealed,
                created_at=clock.now(),
            )
        )
        entry = AuditEntry(
            action=f"{upload.purpose.value}.upload",
            resource_type=upload.purpose.value,
            resource_id=str(staged.upload_id),
        )
        await uow.audit.record(audit, entry)

    submission = await enqueue_job(uow, new, write)
    if not submission.created:  # an idempotent replay: the first request's bytes are kept
        await uow.uploads.discard(staged.upload_id)
    return submission
