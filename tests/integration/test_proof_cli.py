"""healthplat-verify-proof: a proof exported from a real anchoring run checks offline; any
change to it, its envelope or the content is caught; unreadable input exits 2."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest
from stellar_sdk import Keypair, Network

from domain.adapters.anchoring.stellar_envelope import build_anchor
from domain.adapters.anchoring.stellar_ledger import StellarLedger
from domain.adapters.files.unixfs import cid_of_bytes
from domain.anchoring.merkle import MerkleTree
from domain.anchoring.proof import (
    ExportedProof,
    ExportedStep,
    encode_proof,
    exported_steps,
    leaf_of,
)
from tests.support.horizon import HorizonServer
from tests.support.paths import PROJECT_ROOT
from workers.proof_cli import main

TESTNET = Network.TESTNET_NETWORK_PASSPHRASE
CONTENTS = [f"encrypted record {i}".encode() * (i + 1) for i in range(6)]
INDEX = 4


@pytest.fixture
async def anchored(horizon: HorizonServer, tmp_path: Path) -> ExportedProof:
    """A batch of six records anchored through the test Horizon; the proof of one of them."""
    keypair = Keypair.random()
    horizon.fund(keypair.public_key)
    cids = [cid_of_bytes(content) for content in CONTENTS]
    tree = MerkleTree.build([leaf_of(cid) for cid in cids])
    ledger = StellarLedger(keypair.secret, TESTNET, horizon.url, timeout_seconds=2.0)
    try:
        anchor, record = await ledger.submit(await ledger.sign(tree.root))
    finally:
        await ledger.close()
    return ExportedProof(
        record_id="5d0f3c1e-0c4a-4a55-9b1e-7f3f0c2a9e10",
        cid=cids[INDEX],
        leaf_index=INDEX,
        proof=exported_steps(tree.proof(INDEX)),
        root=tree.root.hex(),
        network=TESTNET,
        source_account=ledger.account_id,
        tx_hash=anchor.tx_hash,
        ledger=record.ledger,
        envelope_xdr=anchor.envelope_xdr,
    )


def write(tmp_path: Path, proof: ExportedProof, name: str = "proof.json") -> Path:
    path = tmp_path / name
    path.write_bytes(encode_proof(proof))
    return path


def content_file(tmp_path: Path, data: bytes = CONTENTS[INDEX]) -> Path:
    path = tmp_path / "record.bin"
    path.write_bytes(data)
    return path


def run(*argv: str | Path) -> tuple[int, str]:
    out = io.StringIO()
    code = main([str(arg) for arg in argv], out=out)
    return code, out.getvalue()


def failed_lines(output: str) -> list[str]:
    return [
        line.split("FAILED", 1)[1].strip() for line in output.splitlines() if "  FAILED" in line
    ]


def test_a_good_proof_passes_as_a_command(anchored: ExportedProof, tmp_path: Path) -> None:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "workers.proof_cli",
            str(write(tmp_path, anchored)),
            "--content",
            str(content_file(tmp_path)),
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "all 7 checks passed" in completed.stdout
    assert "FAILED" not in completed.stdout
    assert f"/transactions/{anchored.tx_hash}" in completed.stdout


def test_without_content_the_six_proof_checks_pass(anchored: ExportedProof, tmp_path: Path) -> None:
    code, output = run(write(tmp_path, anchored))
    assert code == 0
    assert "all 6 checks passed" in output


def test_a_tampered_proof_step_fails(anchored: ExportedProof, tmp_path: Path) -> None:
    step = anchored.proof[0]
    flipped = ("1" if step.hash[0] == "0" else "0") + step.hash[1:]
    tampered = msgspec.structs.replace(
        anchored, proof=[ExportedStep(step.side, flipped), *anchored.proof[1:]]
    )
    code, output = run(write(tmp_path, tampered))
    assert code == 1
    assert failed_lines(output) == [
        "Merkle inclusion: the CID's leaf and the proof lead to the root"
    ]


def test_another_records_cid_fails(anchored: ExportedProof, tmp_path: Path) -> None:
    other = msgspec.structs.replace(anchored, cid=cid_of_bytes(CONTENTS[0]))
    code, output = run(write(tmp_path, other))
    assert code == 1
    assert "Merkle inclusion" in failed_lines(output)[0]


def test_an_envelope_whose_memo_is_another_root_fails(
    anchored: ExportedProof, tmp_path: Path
) -> None:
    """A real signature, but over a transaction anchoring something else."""
    keypair = Keypair.random()
    other = build_anchor(
        keypair,
        network_passphrase=TESTNET,
        sequence=7,
        root=bytes(32),
        fee=100,
        valid_until=2_000_000_000,
    )
    wrong_memo = msgspec.structs.replace(
        anchored,
        source_account=keypair.public_key,
        envelope_xdr=other.envelope_xdr,
        tx_hash=other.tx_hash,
    )
    code, output = run(write(tmp_path, wrong_memo))
    assert code == 1
    assert failed_lines(output) == ["envelope memo hash equals the root"]


def test_an_envelope_signed_by_someone_else_fails(anchored: ExportedProof, tmp_path: Path) -> None:
    """The same memo, signed by another key: the source account's signature is missing."""
    impostor = Keypair.random()
    forged = build_anchor(
        impostor,
        network_passphrase=TESTNET,
        sequence=7,
        root=bytes.fromhex(anchored.root),
        fee=100,
        valid_until=2_000_000_000,
    )
    claimed = msgspec.structs.replace(
        anchored, envelope_xdr=forged.envelope_xdr, tx_hash=forged.tx_hash
    )
    code, output = run(write(tmp_path, claimed))
    assert code == 1
    assert failed_lines(output) == [
        "envelope is signed by sourceAccount under the network passphrase"
    ]


def test_another_network_passphrase_fails(anchored: ExportedProof, tmp_path: Path) -> None:
    other_network = msgspec.structs.replace(anchored, network=Network.PUBLIC_NETWORK_PASSPHRASE)
    code, output = run(write(tmp_path, other_network))
    assert code == 1
    assert failed_lines(output) == [
        "envelope is signed by sourceAccount under the network passphrase",
        "envelope hash equals txHash",
    ]


def test_another_tx_hash_fails(anchored: ExportedProof, tmp_path: Path) -> None:
    code, output = run(write(tmp_path, msgspec.structs.replace(anchored, tx_hash="ab" * 32)))
    assert code == 1
    assert failed_lines(output) == ["envelope hash equals txHash"]


def test_changed_content_fails(anchored: ExportedProof, tmp_path: Path) -> None:
    changed = content_file(tmp_path, CONTENTS[INDEX] + b"!")
    code, output = run(write(tmp_path, anchored), "--content", changed)
    assert code == 1
    assert failed_lines(output) == ["the content's CID is the proof's CID"]


def test_an_unknown_format_version_fails(anchored: ExportedProof, tmp_path: Path) -> None:
    code, output = run(write(tmp_path, msgspec.structs.replace(anchored, version=2)))
    assert code == 1
    assert failed_lines(output) == ["proof format version 1"]


def test_garbage_envelope_fails_every_envelope_check(
    anchored: ExportedProof, tmp_path: Path
) -> None:
    code, output = run(write(tmp_path, msgspec.structs.replace(anchored, envelope_xdr="bm9wZQ==")))
    assert code == 1
    assert len(failed_lines(output)) == 4


def test_unreadable_input_exits_2(
    anchored: ExportedProof, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    not_json = tmp_path / "not.json"
    not_json.write_text("{ this is not json")
    wrong_shape = tmp_path / "shape.json"
    wrong_shape.write_text('{"cid": 3}')
    assert run(tmp_path / "missing.json")[0] == 2
    assert run(not_json)[0] == 2
    assert run(wrong_shape)[0] == 2
    assert run(write(tmp_path, anchored), "--content", tmp_path / "missing.bin")[0] == 2
    assert "cannot read" in capsys.readouterr().err
