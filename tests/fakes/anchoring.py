"""Anchoring in memory: batches, the records waiting for one, and a ledger that keeps order.

The fake ledger checks what the real one does that anchoring relies on: one
transaction per sequence number in order (a stale sequence is refused, as
``tx_bad_seq``), and a transaction is found by its hash once it landed.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import msgspec

from domain.anchoring.model import AnchorBatch, BatchStatus, Placement
from domain.anchoring.ports import LedgerTransaction, SignedAnchor
from domain.clock import Clock
from domain.errors import TransientFailure
from tests.fakes.database import FakeDatabase


class FakeAnchorBatchRepository:
    def __init__(self, database: FakeDatabase, clock: Clock) -> None:
        self._batches: dict[uuid.UUID, AnchorBatch] = database.table("anchor_batches")
        self._waiting: dict[uuid.UUID, WaitingRecord] = database.table("waiting_records")

    async def add(self, batch: AnchorBatch) -> None:
        self._batches[batch.id] = batch

    async def get(self, batch_id: uuid.UUID) -> AnchorBatch | None:
        return self._batches.get(batch_id)

    async def unanchored(self, limit: int) -> list[AnchorBatch]:
        waiting = [b for b in self._batches.values() if b.status is not BatchStatus.ANCHORED]
        return sorted(waiting, key=lambda b: b.created_at)[:limit]

    async def anchor(
        self, batch_id: uuid.UUID, anchor: SignedAnchor, ledger: int, at: datetime
    ) -> None:
        self._batches[batch_id] = msgspec.structs.replace(
            self._batches[batch_id],
            status=BatchStatus.ANCHORED,
            ledger=ledger,
            tx_hash=anchor.tx_hash,
            envelope_xdr=anchor.envelope_xdr,
            sequence=anchor.sequence,
            anchored_at=at,
        )

    async def replace_envelope(self, batch_id: uuid.UUID, anchor: SignedAnchor) -> None:
        self._batches[batch_id] = msgspec.structs.replace(
            self._batches[batch_id], envelope_xdr=anchor.envelope_xdr, tx_hash=anchor.tx_hash
        )

    async def run_needed(self, *, include_signed: bool) -> bool:
        unbatched = any(r.batch_id is None for r in self._waiting.values())
        unsent = include_signed and any(
            b.status is BatchStatus.SIGNED for b in self._batches.values()
        )
        return unbatched or unsent


@dataclass
class WaitingRecord:
    id: uuid.UUID
    cid: str
    created_at: datetime
    batch_id: uuid.UUID | None = None
    placement: Placement | None = None
    tx_hash: str | None = None


class FakeAnchorableRecords:
    def __init__(self, database: FakeDatabase, clock: Clock) -> None:
        self._waiting: dict[uuid.UUID, WaitingRecord] = database.table("waiting_records")

    async def unbatched(self, limit: int) -> Sequence[WaitingRecord]:
        waiting = [r for r in self._waiting.values() if r.batch_id is None]
        return sorted(waiting, key=lambda r: (r.created_at, r.id))[:limit]

    async def place_in_batch(self, batch_id: uuid.UUID, placements: Sequence[Placement]) -> None:
        for placement in placements:
            record = self._waiting[placement.record_id]
            record.batch_id, record.placement = batch_id, placement

    async def mark_anchored(self, batch_id: uuid.UUID, tx_hash: str) -> int:
        marked = [r for r in self._waiting.values() if r.batch_id == batch_id]
        for record in marked:
            record.tx_hash = tx_hash
        return len(marked)


class FakeLedger:
    """Signs by hashing (no keys), lands transactions in sequence order, one per ledger."""

    network_passphrase = "Fake Network ; 2031"
    account_id = "GFAKEACCOUNT"

    def __init__(self, *, submits: bool = True) -> None:
        self.submits = submits
        self.sequence = 100  # the account's current sequence on the ledger
        self.landed: dict[str, LedgerTransaction] = {}
        self.signed = 0
        self.down = False

    def _sign(self, root: bytes, sequence: int) -> SignedAnchor:
        envelope = f"{root.hex()}:{sequence}"
        return SignedAnchor(
            root=root,
            envelope_xdr=envelope,
            tx_hash=hashlib.sha256(envelope.encode()).hexdigest(),
            sequence=sequence,
            fee=100,
        )

    async def sign(self, root: bytes) -> SignedAnchor:
        self.signed += 1
        return self._sign(root, self.sequence + self.signed)

    async def submit(self, anchor: SignedAnchor) -> tuple[SignedAnchor, LedgerTransaction]:
        if self.down:
            raise TransientFailure("the ledger is unreachable", code="stellar_unreachable")
        if anchor.tx_hash in self.landed:
            return anchor, self.landed[anchor.tx_hash]
        if anchor.sequence != self.sequence + 1:  # tx_bad_seq: re-sign at the next sequence
            anchor = self._sign(anchor.root, self.sequence + 1)
        self.sequence = anchor.sequence
        self.signed = 0
        landed = LedgerTransaction(
            tx_hash=anchor.tx_hash,
            ledger=1000 + len(self.landed),
            source_account=self.account_id,
            memo_hash=anchor.root,
            successful=True,
            envelope_xdr=anchor.envelope_xdr,
        )
        self.landed[anchor.tx_hash] = landed
        return anchor, landed

    async def lookup(self, tx_hash: str) -> LedgerTransaction | None:
        return self.landed.get(tx_hash)

    async def close(self) -> None:
        return None
