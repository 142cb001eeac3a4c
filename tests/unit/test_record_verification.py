"""The content check on its own: one pass over the content gives its CID, size and SHA-256."""

from __future__ import annotations

import hashlib
import tracemalloc
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from domain.adapters.files.unixfs import CHUNK_SIZE, cid_of
from domain.records.model import AnchorStatus, RecordType, StoredRecord
from domain.records.verification import CheckStatus, check_content

PIECES = 80  # 20 MiB in 256 KiB pieces, each made when it is asked for


def piece(index: int) -> bytes:
    return hashlib.shake_256(b"%d" % index).digest(CHUNK_SIZE)


class GeneratedContent:
    """A content store whose one file is made piece by piece, counting how often it is read."""

    def __init__(self) -> None:
        self.reads = 0

    async def cat(self, cid: str) -> AsyncIterator[bytes]:
        self.reads += 1
        for index in range(PIECES):
            yield piece(index)


async def pieces() -> AsyncIterator[bytes]:
    for index in range(PIECES):
        yield piece(index)


def whole_sha256() -> bytes:
    digest = hashlib.sha256()
    for index in range(PIECES):
        digest.update(piece(index))
    return digest.digest()


def record(cid: str, *, size_bytes: int, sha256: bytes) -> StoredRecord:
    return StoredRecord(
        id=uuid.uuid4(),
        patient_id=uuid.uuid4(),
        uploaded_by=uuid.uuid4(),
        job_id=uuid.uuid4(),
        record_type=RecordType.OTHER,
        description=None,
        cid=cid,
        size_bytes=size_bytes,
        sha256=sha256,
        anchor_status=AnchorStatus.PENDING,
        anchor_batch_id=None,
        leaf_index=None,
        proof=None,
        created_at=datetime.now(UTC),
    )


async def test_one_read_with_one_piece_in_memory_checks_cid_size_and_sha256() -> None:
    cid, sha256 = await cid_of(pieces()), whole_sha256()
    content = GeneratedContent()
    tracemalloc.start()
    try:
        check = await check_content(
            record(cid, size_bytes=PIECES * CHUNK_SIZE, sha256=sha256), content, cid_of
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert check.status is CheckStatus.OK, check.detail
    assert content.reads == 1
    assert peak < 8 * CHUNK_SIZE  # a few pieces at most, never the 20 MiB


async def test_a_size_or_sha256_other_than_the_recorded_one_fails() -> None:
    cid, sha256 = await cid_of(pieces()), whole_sha256()
    size = PIECES * CHUNK_SIZE
    wrong_size = await check_content(
        record(cid, size_bytes=size - 1, sha256=sha256), GeneratedContent(), cid_of
    )
    wrong_sha = await check_content(
        record(cid, size_bytes=size, sha256=hashlib.sha256(b"other").digest()),
        GeneratedContent(),
        cid_of,
    )
    assert (wrong_size.status, wrong_size.detail) == (
        CheckStatus.FAILED,
        "the content's size is not the size recorded at upload",
    )
    assert (wrong_sha.status, wrong_sha.detail) == (
        CheckStatus.FAILED,
        "the content's SHA-256 is not the one recorded at upload",
    )
    for check in (wrong_size, wrong_sha):
        assert cid not in check.detail and sha256.hex() not in check.detail
