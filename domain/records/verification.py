"""Checking a record three independent ways, each answered on its own.

- content: the bytes re-fetched from IPFS still hash to the stored CID, and
  their size and SHA-256 are the ones recorded at upload (so a row whose CID
  was swapped for another pinned CID fails here, not only at the proof);
- proof: the record's Merkle proof leads from its CID to its batch's root;
- ledger: the batch's transaction is on the ledger, from our account, with the
  root as its memo.
A check that cannot be made now (IPFS or Horizon unreachable, a batch not yet
submitted) says so as ``pending`` or ``unavailable``, never as a pass.
"""

from __future__ import annotations

import enum
import hashlib
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable

import msgspec

from domain.anchoring.merkle import ProofStep, verify
from domain.anchoring.model import AnchorBatch, BatchStatus
from domain.anchoring.ports import AnchorLedger
from domain.anchoring.proof import leaf_of
from domain.auditing import AuditContext
from domain.errors import ContentMissing, TransientFailure
from domain.files.ports import ContentStore
from domain.files.reading import examine_file
from domain.policies import Access
from domain.records.kind import RECORDS
from domain.records.model import StoredRecord
from domain.records.ports import UnitOfWork
from domain.transactions import UnitOfWorkFactory

CidOf = Callable[[AsyncIterable[bytes]], Awaitable[str]]


class CheckStatus(enum.StrEnum):
    OK = "ok"
    FAILED = "failed"
    PENDING = "pending"  # nothing to check yet (no batch, or not on the ledger yet)
    UNAVAILABLE = "unavailable"  # the outside system did not answer; try again later


class Check(msgspec.Struct, frozen=True):
    status: CheckStatus
    detail: str


class Verification(msgspec.Struct, frozen=True):
    content: Check
    proof: Check
    ledger: Check

    @property
    def verified(self) -> bool:
        return all(c.status is CheckStatus.OK for c in (self.content, self.proof, self.ledger))


class _Tally:
    """Size and SHA-256 of the bytes that pass through on their way to the CID computation:
    one read of the content, one chunk in memory at a time."""

    def __init__(self) -> None:
        self.size = 0
        self._sha256 = hashlib.sha256()

    async def through(self, chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
        async for chunk in chunks:
            self.size += len(chunk)
            self._sha256.update(chunk)
            yield chunk

    @property
    def sha256(self) -> bytes:
        return self._sha256.digest()


async def check_content(record: StoredRecord, content: ContentStore, cid_of: CidOf) -> Check:
    """The content under the record's CID is the content uploaded: same CID, size and SHA-256.

    The CID alone proves only that the bytes match the CID; the size and
    SHA-256 recorded at upload tie them to the record. Details name the check
    that failed, never a value.
    """
    tally = _Tally()
    try:
        recomputed = await cid_of(tally.through(content.cat(record.cid)))
    except ContentMissing:
        return Check(CheckStatus.FAILED, "the content store no longer holds this CID")
    except TransientFailure:
        return Check(CheckStatus.UNAVAILABLE, "the content store did not answer")
    if recomputed != record.cid:
        return Check(CheckStatus.FAILED, "the content does not hash to the record's CID")
    if tally.size != record.size_bytes:
        return Check(CheckStatus.FAILED, "the content's size is not the size recorded at upload")
    if tally.sha256 != record.sha256:
        return Check(CheckStatus.FAILED, "the content's SHA-256 is not the one recorded at upload")
    return Check(CheckStatus.OK, "the content hashes to the record's CID")


def check_proof(record: StoredRecord, batch: AnchorBatch | None) -> Check:
    if batch is None or record.proof is None:
        return Check(CheckStatus.PENDING, "the record is not in an anchor batch yet")
    steps = [ProofStep(side=step.side, hash=bytes.fromhex(step.hash)) for step in record.proof]
    if not verify(leaf_of(record.cid), steps, batch.root):
        return Check(CheckStatus.FAILED, "the proof does not lead to the batch's root")
    return Check(CheckStatus.OK, "the proof leads from the CID to the batch's root")


async def check_ledger(batch: AnchorBatch | None, ledger: AnchorLedger | None) -> Check:
    if batch is None:
        return Check(CheckStatus.PENDING, "the record is not in an anchor batch yet")
    if batch.status is not BatchStatus.ANCHORED:
        return Check(CheckStatus.PENDING, "the batch is signed but not on the ledger yet")
    if ledger is None or not ledger.submits:
        return Check(CheckStatus.UNAVAILABLE, "no Horizon is configured to check against")
    try:
        found = await ledger.lookup(batch.tx_hash)
    except TransientFailure:
        return Check(CheckStatus.UNAVAILABLE, "Horizon did not answer")
    if found is None or not found.successful:
        return Check(CheckStatus.FAILED, "the transaction is not on the ledger")
    if found.source_account != batch.source_account:
        return Check(CheckStatus.FAILED, "the transaction's source is not our account")
    if found.memo_hash != batch.root:
        return Check(CheckStatus.FAILED, "the transaction's memo is not the batch's root")
    return Check(CheckStatus.OK, f"on the ledger in ledger {found.ledger}")


async def run_checks(
    record: StoredRecord,
    batch: AnchorBatch | None,
    content: ContentStore,
    cid_of: CidOf,
    ledger: AnchorLedger | None,
) -> Verification:
    return Verification(
        content=await check_content(record, content, cid_of),
        proof=check_proof(record, batch),
        ledger=await check_ledger(batch, ledger),
    )


async def verify_record(
    access: Access,
    audit: AuditContext,
    record_id: uuid.UUID,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    content: ContentStore,
    cid_of: CidOf,
    ledger: AnchorLedger | None,
) -> Verification:
    """A record's three checks, for a caller who may read it (audited as ``record.verify``)."""
    examined = await examine_file(
        RECORDS, access, audit, record_id, "verify", uow_factory=uow_factory
    )
    return await run_checks(examined.file, examined.attachment, content, cid_of, ledger)
