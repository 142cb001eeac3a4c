"""The one storing job, for every kind (``record.store``, ``document.store``): staged bytes to
IPFS, then the file's row, built from the upload's details as they wait.

The bytes go as they were staged (a record as the client encrypted it, a
document as we encrypted it), and the details move over sealed as they are
(domain/files/details.py). IPFS failing is retried by the job's schedule and in
the end fails the job with no row written: the staged upload stays, so an
operator's retry can still finish it. A repeated attempt finds the row its
predecessor wrote and only reports it. A kind whose files are worked on next (a
scan is read) names that job (``then``): it is enqueued with the row, in one
transaction. The result names the file and its CID; for a kind anchored on
Stellar, the anchoring job adds the transaction's hash once the file's batch lands.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from domain.clock import Clock
from domain.files.details import restaged, stored_file
from domain.files.model import AnchoredFile, StoredFile
from domain.files.ports import ContentStore, UnitOfWork
from domain.files.staging import UploadPayload, add_to_content_store, find_staged
from domain.jobs.model import Job
from domain.jobs.ports import MessageSender, Submission
from domain.jobs.submit import enqueue_job, send_submitted
from domain.sealing import Cipher
from domain.transactions import UnitOfWorkFactory

if TYPE_CHECKING:
    from domain.files.kind import FileKind


def job_result(kind: FileKind, file: StoredFile) -> dict[str, Any]:
    """The storing job's result, as a client polling the job reads it."""
    result: dict[str, Any] = {f"{kind.name}Id": str(file.id), "cid": file.cid}
    if isinstance(file, AnchoredFile):
        result |= {"anchorStatus": file.anchor_status.value, "stellarTxHash": None}
    return result


async def store_upload(
    kind: FileKind,
    job: Job,
    payload: UploadPayload,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    content: ContentStore,
    cipher: Cipher,
    clock: Clock,
    sender: MessageSender,
) -> dict[str, Any]:
    staged = await find_staged(uow_factory, job, payload, kind.name, kind.table)
    if staged.done is not None:  # an earlier attempt wrote it and died before recording success
        return job_result(kind, staged.done)
    upload = staged.upload
    assert upload is not None  # find_staged gives the file or the upload
    cid = await add_to_content_store(uow_factory, content, upload, staged.held)
    # ``cipher`` opens nothing but an upload staged before details were sealed once.
    file = stored_file(kind, restaged(kind, cipher, upload), cid, clock.now())
    follow: Submission | None = None
    async with uow_factory() as uow:
        await uow.files[kind.table].add(file)
        await uow.uploads.discard(upload.id)
        if kind.then is not None:  # the row and the job that follows it, or neither
            follow = await enqueue_job(uow, kind.then(file, job))
    await send_submitted(sender, follow)
    return job_result(kind, file)
