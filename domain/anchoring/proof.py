"""A record's proof of anchoring as a self-contained JSON document anyone can check offline.

It carries everything a verifier needs without trusting us or reaching us: the
record's CID (from which the leaf is recomputed), the Merkle path to the
batch's root, and the signed Stellar envelope whose memo hash is that root. The
ledger number and transaction hash let the verifier look the transaction up on
any Horizon, or in a ledger archive, to see that it really landed.

Field names are camelCase on the wire, as everywhere in the API. The checks
here are pure (no Stellar SDK), so both the API's verify endpoint and the
``healthplat-verify-proof`` CLI run the same code; the envelope checks, which
need the SDK, are in ``domain.adapters.anchoring.stellar_envelope``.
"""

from __future__ import annotations

import binascii
from collections.abc import Sequence
from typing import Literal

import msgspec

from domain.anchoring.merkle import HASH_SIZE, ProofStep, verify
from domain.errors import ValidationFailed

PROOF_VERSION = 1


class ExportedStep(msgspec.Struct, frozen=True):
    side: Literal["left", "right"]  # where the sibling hash sits
    hash: str  # hex, 32 bytes


class ExportedProof(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    version: int = PROOF_VERSION
    record_id: str
    cid: str
    leaf_index: int
    proof: list[ExportedStep]
    root: str  # hex, 32 bytes: the Merkle root and the transaction's memo hash
    network: str  # the network passphrase the envelope is signed under
    source_account: str  # G... public key that signed the envelope
    tx_hash: str  # hex
    ledger: int | None  # None while the batch is signed but not yet seen on the ledger
    envelope_xdr: str  # base64 TransactionEnvelope


def exported_steps(steps: Sequence[ProofStep]) -> list[ExportedStep]:
    return [ExportedStep(side=step.side, hash=step.hash.hex()) for step in steps]


def proof_steps(exported: ExportedProof) -> list[ProofStep]:
    """The proof's steps as bytes; raises ValueError on a hash that is not 32 bytes of hex."""
    return [ProofStep(step.side, _hash_bytes(step.hash)) for step in exported.proof]


def root_bytes(exported: ExportedProof) -> bytes:
    """The root as bytes; raises ValueError unless it is 32 bytes of hex."""
    return _hash_bytes(exported.root)


def leaf_of(cid: str) -> bytes:
    """A record's leaf bytes: its CID text, UTF-8 (the same rule the batches are built with)."""
    return cid.encode()


def check_inclusion(exported: ExportedProof) -> bool:
    """Whether the CID's leaf, walked up the proof, gives the root; malformed input is False."""
    try:
        steps = proof_steps(exported)
        root = root_bytes(exported)
    except ValueError:
        return False
    return verify(leaf_of(exported.cid), steps, root)


def decode_proof(raw: bytes | str) -> ExportedProof:
    """Parse an exported proof; raises ValidationFailed (not echoing the input) if it is none."""
    try:
        return msgspec.json.decode(raw, type=ExportedProof)
    except msgspec.DecodeError as exc:
        raise ValidationFailed(f"not an exported record proof: {exc}", code="bad_proof") from None


def encode_proof(exported: ExportedProof) -> bytes:
    return msgspec.json.encode(exported)


def _hash_bytes(text: str) -> bytes:
    try:
        value = bytes.fromhex(text)
    except (ValueError, binascii.Error):
        raise ValueError("not hex") from None
    if len(value) != HASH_SIZE:
        raise ValueError("a hash must be 32 bytes")
    return value
