"""Uploads staged in the database until a job moves them to content storage.

A client's bytes are written chunk by chunk into the transaction that creates
their job: when the client hears "accepted", the bytes are as durable as the
job; when the request is refused, the transaction rolls back and nothing is
left. The meter enforces the size limit as the bytes arrive, so an oversized
upload is refused before it is read to the end.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import msgspec

from domain.errors import PayloadTooLarge
from domain.sealing import Sealed

STAGING_CHUNK_BYTES = 256 * 1024


class StagedUpload(msgspec.Struct, frozen=True, kw_only=True):
    """An upload waiting for its storing job; its id becomes the stored file's id.

    What it will become waits as the file's row will hold it: ``public``, the details
    that are not PHI, by column name (a record's type); ``sealed``, each PHI detail
    sealed once, for the column it moves to, by that column's place
    (``records.description``). An upload staged before that (migration 0009) holds
    ``legacy``: every detail sealed together as one JSON value, converted by the job.
    """

    id: uuid.UUID
    job_id: uuid.UUID
    purpose: str  # the file kind's name ("record")
    patient_id: uuid.UUID
    uploaded_by: uuid.UUID
    size_bytes: int
    sha256: bytes
    public: dict[str, Any] | None
    sealed: dict[str, Sealed]
    created_at: datetime
    legacy: Sealed | None = None


class UploadMeter:
    """Counts and hashes bytes as they stream past, and refuses them past ``limit``."""

    def __init__(self, limit: int, what: str) -> None:
        self.limit = limit
        self.size = 0
        self._what = what
        self._digest = hashlib.sha256()

    def count(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            megabytes = self.limit / (1024 * 1024)
            raise PayloadTooLarge(f"the {self._what} is larger than {megabytes:g} MB")
        self._digest.update(data)

    @property
    def sha256(self) -> bytes:
        return self._digest.digest()


class Rechunker:
    """Regroups bytes of any piece size into chunks of ``size`` (the last may be shorter)."""

    def __init__(self, size: int = STAGING_CHUNK_BYTES) -> None:
        self._size = size
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        if len(self._buffer) < self._size:
            return []
        cut = len(self._buffer) - len(self._buffer) % self._size
        whole = bytes(self._buffer[:cut])
        del self._buffer[:cut]
        return [whole[i : i + self._size] for i in range(0, cut, self._size)]

    def finish(self) -> list[bytes]:
        rest, self._buffer = bytes(self._buffer), bytearray()
        return [rest] if rest else []


class StagedBytes(msgspec.Struct, frozen=True):
    upload_id: uuid.UUID
    size: int
    sha256: bytes


class ReceivedForm(msgspec.Struct, frozen=True):
    """An upload form once read: its text fields, and the client's name for the file."""

    fields: dict[str, str]
    filename: str | None


class UploadForm(msgspec.Struct, frozen=True):
    """An upload's form, checked by its kind: whose file it is, and its details by column name
    (a record's type and description; a document's file name)."""

    patient_id: uuid.UUID
    details: dict[str, Any]


FileSink = Callable[[bytes], Awaitable[None]]
# Reads the request, handing the file's bytes to the sink as they arrive.
ReceiveForm = Callable[[FileSink], Awaitable[ReceivedForm]]
