"""A file's details, sealed once: by the API, for the column each PHI detail ends in.

An upload's id is its file's id, so the API can seal each PHI detail (a record's
description, a document's file name and data key) with the context of the very
column it will be stored in (``records.description:<id>``). While the upload
waits, that ciphertext sits in the column's twin in ``uploads`` (listed with every
sealed column, so key rotation covers it); the storing job copies it into the
file's row as it is, never opening it. Sealing there and moving the ciphertext,
rather than keeping the details in one shared place the row points to, keeps
every file's PHI in its own row and columns, as the rows stored before were, so
reading, rotation and deletion need no second place to look.

Details that are not PHI (a record's type, a PDF's page count) wait in the clear,
by column name, as the row will hold them. ``restaged`` converts an upload staged
before this scheme (its details sealed together as one JSON value): the one place
that opens staged details, for those uploads only.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import msgspec

from domain.files.model import StoredFile
from domain.files.uploads import StagedUpload
from domain.phi.columns import UPLOAD_DETAILS
from domain.sealing import Cipher, Sealed

if TYPE_CHECKING:
    from domain.files.kind import FileKind


def _plain_bytes(value: object) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


def seal_details(
    kind: FileKind, cipher: Cipher, file_id: object, details: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Sealed]]:
    """Split ``details``: the public ones as JSON values by column name, and each PHI one
    sealed for its column in the file's row, by that column's place."""
    public: dict[str, Any] = {}
    sealed: dict[str, Sealed] = {}
    for name, value in details.items():
        column = kind.sealed.get(name)
        if column is None:
            public[name] = value
        elif value is not None:
            sealed[column.place] = cipher.seal(_plain_bytes(value), column.context(file_id))
    return msgspec.to_builtins(public), sealed


def open_details(kind: FileKind, cipher: Cipher, file: StoredFile) -> dict[str, str | None]:
    """The PHI details a reader sees, opened (in memory only)."""
    opened: dict[str, str | None] = {}
    for name in kind.shown:
        value: Sealed | None = getattr(file, name)
        column = kind.sealed[name]
        opened[name] = (
            None if value is None else cipher.open(value, column.context(file.id)).decode()
        )
    return opened


def open_detail(kind: FileKind, cipher: Cipher, file: StoredFile, name: str) -> bytes:
    """One sealed detail of a stored file, opened (a document's data key)."""
    return cipher.open(getattr(file, name), kind.sealed[name].context(file.id))


def restaged(kind: FileKind, cipher: Cipher, upload: StagedUpload) -> StagedUpload:
    """An upload staged before details were sealed once, in today's form."""
    if upload.legacy is None or kind.legacy_details is None:
        return upload
    plaintext = cipher.open(upload.legacy, UPLOAD_DETAILS.context(upload.id))
    details = msgspec.structs.asdict(msgspec.json.decode(plaintext, type=kind.legacy_details))
    public, sealed = seal_details(kind, cipher, upload.id, details)
    return msgspec.structs.replace(upload, public=public, sealed=sealed, legacy=None)


def stored_file(kind: FileKind, upload: StagedUpload, cid: str, at: datetime) -> StoredFile:
    """The kind's row for a staged upload now on IPFS: its details moved over as they wait."""
    values: dict[str, Any] = {
        "id": upload.id,
        "patient_id": upload.patient_id,
        "uploaded_by": upload.uploaded_by,
        "job_id": upload.job_id,
        "cid": cid,
        "size_bytes": upload.size_bytes,
        "sha256": upload.sha256,
        "created_at": at,
        **(upload.public or {}),
    }
    for name, column in kind.sealed.items():
        values[name] = upload.sealed.get(column.place)
    return msgspec.convert(values, kind.row)
