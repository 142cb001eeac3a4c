"""The ledger that carries Merkle roots, where batches are kept, what anchoring asks of records."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

import msgspec

from domain.anchoring.model import AnchorBatch, Placement
from domain.auditing import AuditLog
from domain.jobs.ports import JobRepository


class SignedAnchor(msgspec.Struct, frozen=True, kw_only=True):
    """A signed Stellar transaction whose memo hash is a Merkle root; kept before submitting
    so a timed-out submission is retried with the very same envelope."""

    root: bytes  # 32 bytes, the memo hash
    envelope_xdr: str  # base64 TransactionEnvelope
    tx_hash: str  # hex, the hash of the transaction under the network passphrase
    sequence: int
    fee: int  # total fee in stroops


class LedgerTransaction(msgspec.Struct, frozen=True, kw_only=True):
    """A transaction as the ledger (Horizon) reports it."""

    tx_hash: str
    ledger: int
    source_account: str
    memo_hash: bytes | None
    successful: bool
    envelope_xdr: str


class AnchorLedger(Protocol):
    """Anchors Merkle roots on Stellar.

    ``submits`` is False when no Horizon is configured: transactions are then signed and
    kept, and submitted once one is. ``submit`` handles the ledger's usual refusals itself:
    tx_bad_seq (looks the hash up, reloads the sequence, re-signs), timeouts (resubmits the
    same envelope), TRY_AGAIN_LATER and fee surges (raises the fee up to its cap). It
    raises TransientFailure when Horizon stays unreachable and PermanentFailure for what
    no retry can fix (bad auth, an unfunded account).
    """

    account_id: str  # our public key (G...)
    network_passphrase: str
    submits: bool

    async def sign(self, root: bytes) -> SignedAnchor: ...

    async def submit(self, anchor: SignedAnchor) -> tuple[SignedAnchor, LedgerTransaction]:
        """Returns the anchor that landed (re-signed if its sequence was stale) and its record."""
        ...

    async def lookup(self, tx_hash: str) -> LedgerTransaction | None: ...

    async def close(self) -> None: ...


class AnchorBatchRepository(Protocol):
    async def add(self, batch: AnchorBatch) -> None: ...

    async def get(self, batch_id: uuid.UUID) -> AnchorBatch | None: ...

    async def unanchored(self, limit: int) -> list[AnchorBatch]:
        """Lock the batches not yet on the ledger, oldest first."""
        ...

    async def anchor(
        self, batch_id: uuid.UUID, anchor: SignedAnchor, ledger: int, at: datetime
    ) -> None:
        """Store the transaction that landed (re-signed ones differ from the kept one)."""
        ...

    async def replace_envelope(self, batch_id: uuid.UUID, anchor: SignedAnchor) -> None: ...

    async def run_needed(self, *, include_signed: bool) -> bool:
        """Records wait for a batch (or, with ``include_signed``, batches wait for the ledger)
        and no anchoring job is queued, running or waiting to retry."""
        ...


class WaitingRecord(Protocol):
    """What anchoring reads of a record that waits for a batch."""

    @property
    def id(self) -> uuid.UUID: ...

    @property
    def cid(self) -> str: ...


class AnchorableRecords(Protocol):
    """What anchoring asks of the records' store (a structural subset of it)."""

    async def unbatched(self, limit: int) -> Sequence[WaitingRecord]:
        """Lock up to ``limit`` records not yet in a batch, oldest first (skips locked rows)."""
        ...

    async def place_in_batch(
        self, batch_id: uuid.UUID, placements: Sequence[Placement]
    ) -> None: ...

    async def mark_anchored(self, batch_id: uuid.UUID, tx_hash: str) -> int:
        """Every record of the batch is anchored, and its job's result says so."""
        ...


class UnitOfWork(Protocol):
    """What the anchoring feature reads and writes in one database transaction."""

    anchors: AnchorBatchRepository
    records: AnchorableRecords
    jobs: JobRepository
    audit: AuditLog
