"""Anchoring in Merkle batches: the cost of the tree and proofs, and what batching buys.

    .venv/bin/python -m bench.anchoring [--leaves 10000] [--repeat 5]

What is measured, on ``--leaves`` CIDv1 texts (each a real CID of a small
distinct content, computed with ``domain.adapters.files.unixfs.cid_of_bytes``):

* baseline: ``hashlib.sha256`` of every leaf's bytes, nothing else (the least
  any scheme that commits to each CID must hash);
* tree: ``MerkleTree.build`` (RFC 6962: a 0x00-prefixed hash per leaf, n - 1
  0x01-prefixed inner hashes);
* tree + all proofs: the build, then ``proof(i)`` for every leaf;
* verify all: ``verify(leaf, proof, root)`` for every leaf;
* sign one anchor envelope (stellar-sdk, ed25519), the per-transaction CPU cost.

Each figure is the best of ``--repeat`` runs (time.perf_counter). The ledger
bound is arithmetic, not a measurement: one source account lands about one
transaction per ledger (~5 s, SERVICES.md), so one transaction per record
caps at ~0.2 records/s, and a batch of n records per transaction at n / 5 s.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from collections.abc import Callable
from typing import TypeVar

from stellar_sdk import Keypair, Network

from bench._support import figure, table
from domain.adapters.anchoring.stellar_envelope import build_anchor
from domain.adapters.files.unixfs import cid_of_bytes
from domain.anchoring.merkle import MerkleTree, ProofStep, verify
from domain.anchoring.proof import ExportedProof, encode_proof, exported_steps

T = TypeVar("T")
LEDGER_SECONDS = 5.0
SIGNATURES = 200


def best_of(repeat: int, run: Callable[[], T]) -> tuple[float, T]:
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - started)
    assert result is not None
    return best, result


def tree_and_proofs(leaves: list[bytes]) -> tuple[MerkleTree, list[list[ProofStep]]]:
    tree = MerkleTree.build(leaves)
    return tree, [tree.proof(i) for i in range(len(leaves))]


def measure(n: int, repeat: int) -> dict[str, float]:
    """Best seconds of each step over ``n`` leaves, and the sizes of a proof."""
    cids = [cid_of_bytes(f"record {i}".encode()) for i in range(n)]
    leaves = [cid.encode() for cid in cids]

    baseline, _ = best_of(repeat, lambda: [hashlib.sha256(leaf).digest() for leaf in leaves])
    build, tree = best_of(repeat, lambda: MerkleTree.build(leaves))
    with_proofs, (_, proofs) = best_of(repeat, lambda: tree_and_proofs(leaves))
    verify_all, results = best_of(
        repeat,
        lambda: [
            verify(leaf, proof, tree.root) for leaf, proof in zip(leaves, proofs, strict=True)
        ],
    )
    if not all(results):
        raise SystemExit("a proof did not verify")

    keypair = Keypair.random()
    sign_many, anchor = best_of(
        repeat,
        lambda: [
            build_anchor(
                keypair,
                network_passphrase=Network.TESTNET_NETWORK_PASSPHRASE,
                sequence=i + 1,
                root=tree.root,
                fee=100,
                valid_until=2_000_000_000,
            )
            for i in range(SIGNATURES)
        ][-1],
    )
    longest = max(len(proof) for proof in proofs)
    exported = ExportedProof(
        record_id="00000000-0000-0000-0000-000000000000",
        cid=cids[0],
        leaf_index=0,
        proof=exported_steps(proofs[0]),
        root=tree.root.hex(),
        network=Network.TESTNET_NETWORK_PASSPHRASE,
        source_account=keypair.public_key,
        tx_hash=anchor.tx_hash,
        ledger=1,
        envelope_xdr=anchor.envelope_xdr,
    )

    return {
        "baseline": baseline,
        "build": build,
        "with_proofs": with_proofs,
        "verify_all": verify_all,
        "sign_many": sign_many,
        "longest": longest,
        "proof_bytes": len(encode_proof(exported)),
    }


def figures(*, quick: bool = False) -> dict[str, object]:
    """The runner's view: tree + proofs and verification against sha256 per leaf."""
    n, repeat = 10_000, (3 if quick else 5)
    m = measure(n, repeat)
    rows = [
        figure(
            f"anchoring: tree + all proofs, {n:,} CIDs",
            m["with_proofs"] * 1000,
            "ms",
            baseline=m["baseline"] * 1000,
            baseline_name="sha256 per leaf, ms",
            ratio=m["with_proofs"] / m["baseline"],
        ),
        figure(
            f"anchoring: verify all {n:,} proofs",
            m["verify_all"] * 1000,
            "ms",
            baseline=m["baseline"] * 1000,
            baseline_name="sha256 per leaf, ms",
            ratio=m["verify_all"] / m["baseline"],
        ),
    ]
    return {"bench": "anchoring", "leaves": n, "repeat": repeat, "seconds": m, "rows": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.anchoring", description=__doc__)
    parser.add_argument("--leaves", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    if not 1 <= args.leaves <= 1_000_000:
        parser.error("--leaves must be between 1 and 1,000,000")
    n, repeat = args.leaves, max(1, args.repeat)
    m = measure(n, repeat)
    baseline, build, with_proofs = m["baseline"], m["build"], m["with_proofs"]
    verify_all, sign_many, longest = m["verify_all"], m["sign_many"], int(m["longest"])
    sign_one = sign_many / SIGNATURES

    print(f"anchoring: {n:,} CIDv1 leaves, best of {repeat}, {os.cpu_count()} CPUs")
    print("baseline = hashlib.sha256 of every leaf; ratio = time / baseline time")
    print()

    def row(name: str, seconds: float, per: int, *, compared: bool = True) -> list[str]:
        return [
            name,
            f"{seconds * 1000:,.2f}",
            f"{seconds / per * 1e6:,.2f}",
            f"{per / seconds:,.0f}",
            f"{seconds / baseline:,.1f}" if compared else "-",
        ]

    rows = [
        row("baseline: sha256 per leaf", baseline, n),
        row("tree (RFC 6962 build)", build, n),
        row("tree + all proofs", with_proofs, n),
        row("verify all proofs", verify_all, n),
        row(f"sign anchor envelope (x{SIGNATURES})", sign_many, SIGNATURES, compared=False),
    ]
    print(table(["step", "total ms", "us per item", "items/s", "ratio"], rows))
    print()
    print(
        f"proof: {longest} steps at most (ceil(log2 {n:,})); the exported proof of leaf 0 "
        f"(JSON, with envelope) = {int(m['proof_bytes']):,} bytes"
    )
    print()
    per_ledger = [
        ["1 CID per transaction (naive)", "1", f"{1 / LEDGER_SECONDS:,.1f}", "1"],
        [
            f"{n:,} CIDs per transaction (Merkle batch)",
            f"{n:,}",
            f"{n / LEDGER_SECONDS:,.0f}",
            f"{n:,}",
        ],
    ]
    print(f"ledger bound: one transaction per source account per ~{LEDGER_SECONDS:.0f} s ledger")
    print(table(["scheme", "CIDs per tx", "records/s bound", "ratio"], per_ledger))
    print()
    print(
        f"CPU per batch of {n:,}: tree + proofs {with_proofs * 1000:,.1f} ms + one signature "
        f"{sign_one * 1000:,.2f} ms = {(with_proofs + sign_one) / LEDGER_SECONDS * 100:,.2f}% "
        f"of one ledger; naive signing of {n:,} envelopes: {sign_one * n:,.2f} s of CPU "
        f"and {n * LEDGER_SECONDS / 3600:,.1f} h of ledgers"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
