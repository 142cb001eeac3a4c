"""Anchoring records on Stellar in Merkle batches (DESIGN.md "Anchoring on Stellar").

One source account lands about one transaction per ledger, so records are
anchored in batches: the CIDs waiting are the leaves of a SHA-256 Merkle tree,
the root goes into one transaction's memo, and each record keeps its proof.

A batch is written with its signed envelope *before* that envelope is sent,
so a crash or a timeout after sending resubmits the very same transaction
(one hash, at most one landing) instead of anchoring the root twice.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from datetime import datetime

import msgspec

from domain.anchoring.merkle import MerkleTree
from domain.anchoring.proof import leaf_of

MAX_BATCH_LEAVES = 10_000


class AnchorStatus(enum.StrEnum):  # where an anchored file stands (a record's anchorStatus)
    PENDING = "pending"  # stored on IPFS, waiting for (or in) a batch not yet on the ledger
    ANCHORED = "anchored"  # its batch's root is in a ledger transaction


class BatchStatus(enum.StrEnum):
    SIGNED = "signed"  # built and signed, kept; not (yet) seen on the ledger
    ANCHORED = "anchored"  # its transaction is in a ledger


class AnchorBatch(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    root: bytes
    leaf_count: int
    status: BatchStatus
    network: str
    source_account: str
    envelope_xdr: str
    tx_hash: str
    sequence: int
    fee: int
    ledger: int | None
    created_at: datetime
    anchored_at: datetime | None = None


class Leaf(msgspec.Struct, frozen=True):
    record_id: uuid.UUID
    cid: str


class Placement(msgspec.Struct, frozen=True):
    """Where one record sits in its batch's tree, and the path from it to the root."""

    record_id: uuid.UUID
    leaf_index: int
    proof: list[ProofStepView]


class Plan(msgspec.Struct, frozen=True):
    root: bytes
    placements: list[Placement]


def plan_batch(leaves: Sequence[Leaf]) -> Plan:
    if not leaves:
        raise ValueError("a batch needs at least one record")
    tree = MerkleTree.build([leaf_of(leaf.cid) for leaf in leaves])
    placements = [
        Placement(
            record_id=leaf.record_id,
            leaf_index=index,
            proof=[
                ProofStepView(side=step.side, hash=step.hash.hex()) for step in tree.proof(index)
            ],
        )
        for index, leaf in enumerate(leaves)
    ]
    return Plan(root=tree.root, placements=placements)


class ProofStepView(msgspec.Struct, frozen=True):
    side: str  # "left" | "right": where the sibling hash sits
    hash: str  # hex
