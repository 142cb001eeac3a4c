"""SHA-256 Merkle trees shaped and hashed as in RFC 6962 (Certificate Transparency), section 2.1.

Why this exact construction:

* Domain separation: a leaf is ``sha256(0x00 || data)`` and an inner node
  ``sha256(0x01 || left || right)``, so an inner node can never be passed off as
  a leaf (the second-preimage attack on plain Merkle trees).
* RFC 6962's shape for any n >= 1: the leaves are split at the largest power of
  two below n. An odd node at the end of a level is *promoted* unchanged, never
  paired with a copy of itself: duplicating it (as Bitcoin does) lets two
  different leaf lists share one root (CVE-2012-2459).
* The same roots as the CT reference implementation, so a record's proof can be
  checked by any RFC 6962 library, not only ours.

For medical records, a leaf's bytes are the UTF-8 encoding of the record's CID
text (``domain.anchoring.proof.leaf_of``): whoever holds the file can recompute
the CID, hence the leaf, and check it against a root found on the ledger.

Building computes every level once (n - 1 inner hashes) and keeps them, so a
proof is a walk up the stored levels with no hashing at all.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from typing import Literal

import msgspec

HASH_SIZE = 32
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 leaf hash: ``sha256(0x00 || data)``."""
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 inner node hash: ``sha256(0x01 || left || right)``."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


class ProofStep(msgspec.Struct, frozen=True):
    """One step of an inclusion proof: the sibling's hash and the side it sits on."""

    side: Literal["left", "right"]
    hash: bytes


class MerkleTree:
    """An RFC 6962 tree over a fixed list of leaves; ``levels[0]`` are the leaf hashes."""

    __slots__ = ("levels",)

    def __init__(self, levels: list[list[bytes]]) -> None:
        self.levels = levels

    @classmethod
    def build(cls, leaves: Sequence[bytes]) -> MerkleTree:
        """The tree of ``leaves`` (each the raw leaf bytes, not yet hashed); at least one."""
        if not leaves:
            raise ValueError("a Merkle tree needs at least one leaf")
        sha256 = hashlib.sha256
        level = [sha256(_LEAF_PREFIX + leaf).digest() for leaf in leaves]
        levels = [level]
        while len(level) > 1:
            paired = len(level) - len(level) % 2
            above = [
                sha256(_NODE_PREFIX + level[i] + level[i + 1]).digest() for i in range(0, paired, 2)
            ]
            if paired != len(level):
                above.append(level[-1])  # promoted, not duplicated (RFC 6962 shape)
            level = above
            levels.append(level)
        return cls(levels)

    @property
    def size(self) -> int:
        return len(self.levels[0])

    @property
    def root(self) -> bytes:
        return self.levels[-1][0]

    def proof(self, index: int) -> list[ProofStep]:
        """The siblings from leaf ``index`` up to the root, nearest first."""
        if not 0 <= index < self.size:
            raise IndexError(f"leaf index {index} is outside a tree of {self.size} leaves")
        steps: list[ProofStep] = []
        for level in self.levels[:-1]:
            if index % 2:
                steps.append(ProofStep("left", level[index - 1]))
            elif index + 1 < len(level):
                steps.append(ProofStep("right", level[index + 1]))
            # else: the last node of an odd level is promoted, so this level adds no step
            index //= 2
        return steps


def root_from_proof(leaf: bytes, proof: Sequence[ProofStep]) -> bytes:
    """The root that ``leaf`` (raw bytes) and ``proof`` lead to."""
    current = leaf_hash(leaf)
    for step in proof:
        if len(step.hash) != HASH_SIZE:
            raise ValueError("a proof step's hash must be 32 bytes")
        if step.side == "left":
            current = node_hash(step.hash, current)
        elif step.side == "right":
            current = node_hash(current, step.hash)
        else:
            raise ValueError("a proof step's side must be 'left' or 'right'")
    return current


def verify(leaf: bytes, proof: Sequence[ProofStep], root: bytes) -> bool:
    """Whether ``leaf`` is in the tree whose root is ``root``; a malformed proof is False."""
    try:
        computed = root_from_proof(leaf, proof)
    except ValueError:
        return False
    return hmac.compare_digest(computed, root)
