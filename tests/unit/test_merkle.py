"""RFC 6962 Merkle trees: the CT reference vectors, every proof, and tampering."""

from __future__ import annotations

import hashlib

import pytest

from domain.anchoring.merkle import (
    MerkleTree,
    ProofStep,
    leaf_hash,
    node_hash,
    root_from_proof,
    verify,
)

# The Certificate Transparency reference implementation's test leaves and the
# roots of their first n (RFC 6962 section 2.1), as used by transparency-dev/merkle.
CT_LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# Audit paths in the 8-leaf tree (same reference), nearest sibling first.
CT_PATHS = {
    0: [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    5: [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
}


def rfc6962_root(leaves: list[bytes]) -> bytes:
    """MTH straight from the RFC's recursive definition: split at the largest power of 2 < n."""
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + rfc6962_root(leaves[:k]) + rfc6962_root(leaves[k:])).digest()


def cids(n: int) -> list[bytes]:
    return [f"bafkreitestcid{i:06d}".encode() for i in range(n)]


@pytest.mark.parametrize("size", range(1, 9))
def test_roots_match_the_certificate_transparency_vectors(size: int) -> None:
    assert MerkleTree.build(CT_LEAVES[:size]).root.hex() == CT_ROOTS[size - 1]


@pytest.mark.parametrize("index", sorted(CT_PATHS))
def test_proofs_match_the_reference_audit_paths(index: int) -> None:
    proof = MerkleTree.build(CT_LEAVES).proof(index)
    assert [step.hash.hex() for step in proof] == CT_PATHS[index]


def test_the_shape_is_rfc_6962_for_every_size_up_to_70() -> None:
    for size in range(1, 71):
        leaves = cids(size)
        assert MerkleTree.build(leaves).root == rfc6962_root(leaves), size


def test_three_leaves_by_hand() -> None:
    a, b, c = b"a", b"b", b"c"
    tree = MerkleTree.build([a, b, c])
    ab = node_hash(leaf_hash(a), leaf_hash(b))
    assert tree.root == node_hash(ab, leaf_hash(c))
    assert tree.proof(0) == [ProofStep("right", leaf_hash(b)), ProofStep("right", leaf_hash(c))]
    assert tree.proof(1) == [ProofStep("left", leaf_hash(a)), ProofStep("right", leaf_hash(c))]
    assert tree.proof(2) == [ProofStep("left", ab)]  # c is promoted, not paired with itself


def test_one_leaf_is_its_own_root_with_an_empty_proof() -> None:
    tree = MerkleTree.build([b"only"])
    assert tree.root == leaf_hash(b"only")
    assert tree.proof(0) == []
    assert verify(b"only", [], tree.root)


@pytest.mark.parametrize("size", [1, 2, 3, 7, 1000])
def test_every_proof_verifies(size: int) -> None:
    leaves = cids(size)
    tree = MerkleTree.build(leaves)
    for index, leaf in enumerate(leaves):
        proof = tree.proof(index)
        assert root_from_proof(leaf, proof) == tree.root
        assert verify(leaf, proof, tree.root)


def _flip(data: bytes) -> bytes:
    return bytes([data[0] ^ 0x01]) + data[1:]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 1000])
def test_tampering_fails(size: int) -> None:
    leaves = cids(size)
    tree = MerkleTree.build(leaves)
    indexes = sorted({0, size // 2, size - 1})
    for index in indexes:
        leaf, proof = leaves[index], tree.proof(index)
        assert not verify(leaf + b"x", proof, tree.root), "tampered leaf"
        assert not verify(leaf, proof, _flip(tree.root)), "wrong root"
        for position, step in enumerate(proof):
            other = "left" if step.side == "right" else "right"
            wrong_hash = [
                *proof[:position],
                ProofStep(step.side, _flip(step.hash)),
                *proof[position + 1 :],
            ]
            wrong_side = [*proof[:position], ProofStep(other, step.hash), *proof[position + 1 :]]
            assert not verify(leaf, wrong_hash, tree.root), "tampered step hash"
            assert not verify(leaf, wrong_side, tree.root), "tampered step side"
        if size > 1:
            assert not verify(leaf, proof[:-1], tree.root), "truncated proof"
            assert not verify(leaves[(index + 1) % size], proof, tree.root), "another leaf"


def test_the_last_leaf_is_not_duplicated() -> None:
    """CVE-2012-2459: with a duplicated odd node, [a, b, c] and [a, b, c, c] share a root."""
    three = MerkleTree.build([b"a", b"b", b"c"])
    four = MerkleTree.build([b"a", b"b", b"c", b"c"])
    assert three.root != four.root


def test_an_inner_node_cannot_pass_as_a_leaf() -> None:
    """Domain separation: the two child hashes of a node, offered as leaf data, do not verify."""
    leaves = [b"a", b"b", b"c", b"d"]
    tree = MerkleTree.build(leaves)
    fake_leaf = leaf_hash(b"a") + leaf_hash(b"b")
    right_half = node_hash(leaf_hash(b"c"), leaf_hash(b"d"))
    assert not verify(fake_leaf, [ProofStep("right", right_half)], tree.root)


def test_malformed_proofs_are_false_not_errors() -> None:
    tree = MerkleTree.build([b"a", b"b"])
    assert not verify(b"a", [ProofStep("right", b"short")], tree.root)
    assert not verify(b"a", [ProofStep("up", leaf_hash(b"b"))], tree.root)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        root_from_proof(b"a", [ProofStep("right", b"short")])


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        MerkleTree.build([])
    tree = MerkleTree.build([b"a", b"b", b"c"])
    with pytest.raises(IndexError):
        tree.proof(3)
    with pytest.raises(IndexError):
        tree.proof(-1)


def test_levels_are_kept_once() -> None:
    tree = MerkleTree.build(cids(7))
    assert [len(level) for level in tree.levels] == [7, 4, 2, 1]
    assert tree.size == 7
