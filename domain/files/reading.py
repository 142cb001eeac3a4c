"""Reading a patient's files, of any kind: one file, a list, the bytes.

Who may is the route's policy (the kind's ``policies``), applied to how the
caller stands to the file's patient (domain/patients/access.py): a file the
caller may not see is refused exactly like a missing one. Every access is
audited in the transaction that checks it, as ``<kind>.<action>``, so no read
happens without its event. PHI details are opened in memory, for the caller,
only once the check has passed.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from domain.auditing import AuditContext, AuditEntry
from domain.errors import NotFound
from domain.files.details import open_details
from domain.files.encryption import decrypted
from domain.files.model import FileQuery, OpenedFile, StoredFile
from domain.files.ports import ContentCipher, ContentStore, UnitOfWork
from domain.patients.access import authorize_patient, authorize_patient_file, named_or_own
from domain.policies import Access
from domain.sealing import Cipher
from domain.transactions import UnitOfWorkFactory

if TYPE_CHECKING:
    from domain.files.kind import FileKind


def file_entry(kind: FileKind, action: str, resource_id: uuid.UUID | None) -> AuditEntry:
    return AuditEntry(
        action=f"{kind.name}.{action}",
        resource_type=kind.name,
        resource_id=str(resource_id) if resource_id else None,
    )


async def authorized_file(
    uow: UnitOfWork, kind: FileKind, access: Access, file_id: uuid.UUID
) -> StoredFile:
    """The file, if the caller may reach it under the route's policy; NotFound otherwise."""
    file = await uow.files[kind.table].get(file_id)
    await authorize_patient_file(uow, access, file.patient_id if file else None, kind.name)
    if file is None:  # unreachable: authorize_patient_file refuses a missing one
        raise NotFound(f"{kind.name} not found")
    return file


async def _attachments(kind: FileKind, uow: UnitOfWork, files: Sequence[StoredFile]) -> list[Any]:
    if kind.attach is None:
        return [None] * len(files)
    return await kind.attach(uow, files)


async def examine_file(
    kind: FileKind,
    access: Access,
    audit: AuditContext,
    file_id: uuid.UUID,
    action: str,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
) -> OpenedFile:
    """A file and what its kind shows beside it, its PHI still sealed, audited as ``action``
    (for a kind's own checks: a record's verification, its proof's export)."""
    async with uow_factory(autocommit=True) as uow:
        file = await authorized_file(uow, kind, access, file_id)
        [attachment] = await _attachments(kind, uow, [file])
        await uow.audit.record(audit, file_entry(kind, action, file_id))
    return OpenedFile(file=file, details={}, attachment=attachment)


async def read_file(
    kind: FileKind,
    access: Access,
    audit: AuditContext,
    file_id: uuid.UUID,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    cipher: Cipher,
) -> OpenedFile:
    """A file's metadata, its PHI details opened."""
    examined = await examine_file(kind, access, audit, file_id, "read", uow_factory=uow_factory)
    return OpenedFile(
        file=examined.file,
        details=open_details(kind, cipher, examined.file),
        attachment=examined.attachment,
    )


def _patients_of(files: Sequence[StoredFile]) -> list[uuid.UUID]:
    """The patients whose files a page holds, each once, in the page's order."""
    return list(dict.fromkeys(file.patient_id for file in files))


async def list_files(
    kind: FileKind,
    access: Access,
    audit: AuditContext,
    patient_id: uuid.UUID | None,
    filters: dict[str, Any],
    limit: int,
    cursor: str | None,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    cipher: Cipher,
) -> tuple[list[OpenedFile], str | None]:
    """One patient's files, newest first, their PHI details opened (a patient's own when they
    name nobody); or, for a caller whose policy grants every patient's (an admin) and who
    names none, every patient's as metadata only: their details stay sealed, and the trail
    gets one event per patient shown, so a bulk read is as visible as reading each patient."""
    async with uow_factory(autocommit=True) as uow:
        if patient_id is None and not access.sees_all():
            patient_id = named_or_own(access, None)
        if patient_id is not None:
            await authorize_patient(uow, access, patient_id)
        page = await uow.files[kind.table].page(
            FileQuery(patient_id=patient_id, filters=filters, limit=limit, cursor=cursor)
        )
        attachments = await _attachments(kind, uow, page.files)
        shown = [patient_id] if patient_id is not None else _patients_of(page.files)
        for patient in shown or [None]:
            await uow.audit.record(audit, file_entry(kind, "list", patient))
    opened = [
        OpenedFile(
            file=file,
            details=open_details(kind, cipher, file) if patient_id is not None else {},
            attachment=attachment,
        )
        for file, attachment in zip(page.files, attachments, strict=True)
    ]
    return opened, page.next_cursor


async def file_content(
    kind: FileKind,
    access: Access,
    audit: AuditContext,
    file_id: uuid.UUID,
    *,
    content: ContentStore,
    content_cipher: ContentCipher,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    cipher: Cipher,
) -> tuple[OpenedFile, AsyncIterator[bytes]]:
    """The file and its bytes from IPFS, for the caller to stream: exactly as uploaded, or, for
    a kind we encrypt, decrypted as they stream (an altered ciphertext raises SealBroken)."""
    async with uow_factory(autocommit=True) as uow:
        file = await authorized_file(uow, kind, access, file_id)
        await uow.audit.record(audit, file_entry(kind, kind.content_action, file_id))
    pieces = content.cat(file.cid)
    if kind.encryption is not None:
        pieces = decrypted(kind, cipher, content_cipher, file, pieces)
    return OpenedFile(file=file, details=open_details(kind, cipher, file)), pieces
