"""``healthplat-verify-proof PROOF.json [--content FILE]``: check an anchoring proof offline.

Anyone holding an exported proof (``domain.anchoring.proof.ExportedProof``) can
check, with no database, no network and no trust in us:

* the Merkle inclusion: the leaf made from the CID, walked up the proof,
  gives the root;
* the Stellar envelope: signed by ``sourceAccount`` under the network
  passphrase, memo hash == root, transaction hash == ``txHash``;
* with ``--content``: the file's CID, recomputed the way the platform stores
  files (CIDv1, raw leaves, 256 KiB chunks), is the proof's CID.

What only the network can tell (that ``txHash`` is in ledger ``ledger``) is
named at the end, for the reader to look up on any Horizon or ledger archive.

Exit status: 0 when every check passes, 1 when one fails, 2 when the input
cannot be read.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from domain.adapters.anchoring.stellar_envelope import Check, check_envelope
from domain.anchoring.proof import PROOF_VERSION, ExportedProof, check_inclusion, decode_proof
from domain.errors import ValidationFailed

ALL_PASSED = 0
FAILED = 1
UNREADABLE = 2


def run_checks(exported: ExportedProof, content: bytes | None) -> list[Check]:
    checks = [
        Check(f"proof format version {PROOF_VERSION}", exported.version == PROOF_VERSION),
        Check(
            "Merkle inclusion: the CID's leaf and the proof lead to the root",
            check_inclusion(exported),
        ),
    ]
    try:
        root: bytes | None = bytes.fromhex(exported.root)
    except ValueError:
        root = None
    checks += check_envelope(
        exported.envelope_xdr,
        network_passphrase=exported.network,
        source_account=exported.source_account,
        root=root,
        tx_hash=exported.tx_hash,
    )
    if content is not None:
        checks.append(
            Check("the content's CID is the proof's CID", _same_cid(content, exported.cid))
        )
    return checks


def _same_cid(content: bytes, cid: str) -> bool:
    from domain.adapters.files.unixfs import cid_of_bytes, normalize_cid

    try:
        return cid_of_bytes(content) == normalize_cid(cid)
    except ValueError:  # the proof's CID is not CID text
        return False


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    parser = argparse.ArgumentParser(
        prog="healthplat-verify-proof",
        description="Check a record's exported anchoring proof offline.",
    )
    parser.add_argument("proof", type=Path, help="the exported proof (JSON)")
    parser.add_argument("--content", type=Path, help="the record's file, to recompute its CID")
    args = parser.parse_args(argv)
    try:
        exported = decode_proof(args.proof.read_bytes())
        content = args.content.read_bytes() if args.content is not None else None
    except OSError as exc:
        print(f"cannot read {exc.filename}: {exc.strerror}", file=sys.stderr)
        return UNREADABLE
    except ValidationFailed as exc:
        print(f"{args.proof}: {exc.message}", file=sys.stderr)
        return UNREADABLE

    checks = run_checks(exported, content)
    print(f"record {exported.record_id}, CID {exported.cid}", file=out)
    for check in checks:
        print(f"  {'ok' if check.ok else 'FAILED':<7} {check.name}", file=out)
    failed = sum(not check.ok for check in checks)
    if failed:
        print(f"{failed} of {len(checks)} checks FAILED", file=out)
        return FAILED
    where = f"ledger {exported.ledger}" if exported.ledger is not None else "a ledger"
    print(f"all {len(checks)} checks passed", file=out)
    print(
        f"not checkable offline: that transaction {exported.tx_hash} is in {where} of the "
        f'network "{exported.network}"; look it up on any Horizon: '
        f"/transactions/{exported.tx_hash}",
        file=out,
    )
    return ALL_PASSED


if __name__ == "__main__":
    sys.exit(main())
