"""The exported proof format: camelCase on the wire, parsed strictly, inclusion checked purely."""

from __future__ import annotations

import msgspec
import pytest

from domain.anchoring.merkle import MerkleTree
from domain.anchoring.proof import (
    PROOF_VERSION,
    ExportedProof,
    ExportedStep,
    check_inclusion,
    decode_proof,
    encode_proof,
    exported_steps,
    leaf_of,
    proof_steps,
)
from domain.errors import ValidationFailed

CIDS = [f"bafkreiexample{i:04d}" for i in range(5)]


def exported(index: int = 3) -> ExportedProof:
    tree = MerkleTree.build([leaf_of(cid) for cid in CIDS])
    return ExportedProof(
        record_id="0b7e3c52-93d5-4c1a-9d0e-6a4a3c1f2b11",
        cid=CIDS[index],
        leaf_index=index,
        proof=exported_steps(tree.proof(index)),
        root=tree.root.hex(),
        network="Test SDF Network ; September 2015",
        source_account="GABC",
        tx_hash="ab" * 32,
        ledger=1234,
        envelope_xdr="AAAA",
    )


def test_the_wire_form_is_camel_case_and_round_trips() -> None:
    proof = exported()
    wire = msgspec.json.decode(encode_proof(proof))
    assert set(wire) == {
        "version",
        "recordId",
        "cid",
        "leafIndex",
        "proof",
        "root",
        "network",
        "sourceAccount",
        "txHash",
        "ledger",
        "envelopeXdr",
    }
    assert wire["version"] == PROOF_VERSION
    assert wire["proof"][0].keys() == {"side", "hash"}
    assert decode_proof(encode_proof(proof)) == proof


def test_every_leaf_of_the_batch_checks() -> None:
    assert all(check_inclusion(exported(index)) for index in range(len(CIDS)))


def test_inclusion_fails_when_anything_is_changed() -> None:
    proof = exported()
    first = proof.proof[0]
    flipped = "0" if first.hash[0] != "0" else "1"
    other_side = "left" if first.side == "right" else "right"
    assert not check_inclusion(msgspec.structs.replace(proof, cid=CIDS[0]))
    assert not check_inclusion(msgspec.structs.replace(proof, root="00" * 32))
    assert not check_inclusion(
        msgspec.structs.replace(
            proof, proof=[ExportedStep(first.side, flipped + first.hash[1:]), *proof.proof[1:]]
        )
    )
    assert not check_inclusion(
        msgspec.structs.replace(
            proof, proof=[ExportedStep(other_side, first.hash), *proof.proof[1:]]
        )
    )


def test_malformed_hashes_are_a_failed_check_not_a_crash() -> None:
    proof = exported()
    assert not check_inclusion(msgspec.structs.replace(proof, root="not hex"))
    assert not check_inclusion(msgspec.structs.replace(proof, root="abcd"))
    bad_step = msgspec.structs.replace(proof, proof=[ExportedStep("left", "zz")])
    assert not check_inclusion(bad_step)
    with pytest.raises(ValueError):
        proof_steps(bad_step)


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[]",
        b'{"cid": "x"}',
        msgspec.json.encode({**msgspec.to_builtins(exported()), "leafIndex": "three"}),
        msgspec.json.encode(
            {**msgspec.to_builtins(exported()), "proof": [{"side": "up", "hash": "00"}]}
        ),
    ],
)
def test_what_is_not_a_proof_is_refused(raw: bytes) -> None:
    with pytest.raises(ValidationFailed) as caught:
        decode_proof(raw)
    assert caught.value.code == "bad_proof"
