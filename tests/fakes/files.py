"""The file pipeline's stores in memory: IPFS, staged uploads, and each kind's files.

The content store is an outside system, not part of a transaction: it keeps
what was added even when the unit of work that added it is discarded, as IPFS
does. The repositories keep their rows in the fake database, so a refused
upload leaves nothing, and apply the adapters' own rules (a deleted file is
gone from reads; a CID a live file still uses stays pinned).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import datetime

import msgspec

from domain.clock import Clock
from domain.errors import ContentMissing, ContentUnavailable
from domain.files.kind import FileKind
from domain.files.model import ContentRef, FilePage, FileQuery, StoredFile
from domain.files.uploads import StagedUpload
from tests.fakes.database import FakeDatabase, RepositoryBuilder


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


class FakeContentStore:
    """Content addressed by a hash of the bytes; the same bytes twice are one pinned entry."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.pinned: set[str] = set()
        self.adds = 0
        self.down = False

    def _reachable(self) -> None:
        if self.down:
            raise ContentUnavailable("the content store did not answer")

    @staticmethod
    async def cid_of(chunks: AsyncIterable[bytes]) -> str:
        """The CID these bytes get here (what ``Services.cid_of`` is to a real node)."""
        return "fake" + hashlib.sha256(b"".join([chunk async for chunk in chunks])).hexdigest()

    async def add(self, chunks: AsyncIterable[bytes]) -> str:
        self._reachable()
        data = b"".join([chunk async for chunk in chunks])
        cid = await self.cid_of(_one(data))
        self.blobs[cid] = data
        self.pinned.add(cid)
        self.adds += 1
        return cid

    async def cat(self, cid: str) -> AsyncIterator[bytes]:
        self._reachable()
        if cid not in self.blobs:
            raise ContentMissing("no such content")
        data = self.blobs[cid]
        for start in range(0, len(data), 1000):
            yield data[start : start + 1000]

    async def unpin(self, cid: str) -> None:
        self._reachable()
        self.pinned.discard(cid)

    async def ping(self) -> None:
        self._reachable()

    async def close(self) -> None:
        pass


class FakeUploadRepository:
    def __init__(self, database: FakeDatabase, clock: Clock) -> None:
        self._uploads: dict[uuid.UUID, StagedUpload] = database.table("uploads")
        self._chunks: dict[tuple[uuid.UUID, int], bytes] = database.table("upload_chunks")

    async def add_chunk(self, upload_id: uuid.UUID, seq: int, data: bytes) -> None:
        self._chunks[(upload_id, seq)] = data

    async def add(self, upload: StagedUpload) -> None:
        self._uploads[upload.id] = upload

    async def get(self, upload_id: uuid.UUID) -> StagedUpload | None:
        return self._uploads.get(upload_id)

    async def chunks(self, upload_id: uuid.UUID) -> AsyncIterator[bytes]:
        for key in sorted(key for key in self._chunks if key[0] == upload_id):
            yield self._chunks[key]

    async def discard(self, upload_id: uuid.UUID) -> None:
        self._uploads.pop(upload_id, None)
        for key in [key for key in self._chunks if key[0] == upload_id]:
            del self._chunks[key]


@dataclass
class FileRow:
    file: StoredFile
    deleted_by: uuid.UUID | None = None
    unpinned_at: datetime | None = None


class FakeFileRepository:
    """One kind's files (its ``table``), as the generic PostgreSQL repository keeps them."""

    def __init__(self, database: FakeDatabase, kind: FileKind) -> None:
        self.kind = kind
        self._rows: dict[uuid.UUID, FileRow] = database.table(kind.table)

    async def add(self, file: StoredFile) -> None:
        if any(row.file.job_id == file.job_id for row in self._rows.values()):
            raise AssertionError("a job stores one file (job_id is unique)")
        self._rows[file.id] = FileRow(file)

    def _live(self) -> list[StoredFile]:
        return [row.file for row in self._rows.values() if row.file.deleted_at is None]

    async def get(self, file_id: uuid.UUID) -> StoredFile | None:
        return next((file for file in self._live() if file.id == file_id), None)

    async def by_job(self, job_id: uuid.UUID) -> StoredFile | None:
        return next((row.file for row in self._rows.values() if row.file.job_id == job_id), None)

    async def page(self, query: FileQuery) -> FilePage:
        found = sorted(
            (
                file
                for file in self._live()
                if query.patient_id in (None, file.patient_id)
                and all(getattr(file, name) == value for name, value in query.filters.items())
            ),
            key=lambda file: (file.created_at, file.id),
            reverse=True,
        )
        start = int(query.cursor) if query.cursor else 0  # the fake's cursor: an offset
        end = start + query.limit
        return FilePage(found[start:end], str(end) if len(found) > end else None)

    async def soft_delete(self, file_id: uuid.UUID, by: uuid.UUID, at: datetime) -> bool:
        row = self._rows.get(file_id)
        if row is None or row.file.deleted_at is not None:
            return False
        row.file = msgspec.structs.replace(row.file, deleted_at=at)
        row.deleted_by = by
        return True

    async def due_for_unpin(self, deleted_before: datetime, limit: int) -> list[ContentRef]:
        live = {file.cid for file in self._live()}
        due = sorted(
            (
                row.file
                for row in self._rows.values()
                if row.file.deleted_at is not None
                and row.file.deleted_at < deleted_before
                and row.unpinned_at is None
                and row.file.cid not in live
            ),
            key=lambda file: file.deleted_at or deleted_before,
        )
        return [ContentRef(file.id, file.cid) for file in due[:limit]]

    async def mark_unpinned(self, file_id: uuid.UUID, at: datetime) -> None:
        self._rows[file_id].unpinned_at = at

    def row(self, file_id: uuid.UUID) -> FileRow:
        """Test inspection: a row as stored, deleted or not."""
        return self._rows[file_id]


def files_of(kinds: Iterable[FileKind]) -> RepositoryBuilder:
    """A unit of work's ``files``: each kind's fake repository, by its table."""
    kinds = tuple(kinds)

    def build(database: FakeDatabase, clock: Clock) -> dict[str, FakeFileRepository]:
        return {kind.table: FakeFileRepository(database, kind) for kind in kinds}

    return build
