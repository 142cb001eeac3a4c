"""The anchor transaction: how it is built and signed, and how anyone checks one offline.

One transaction per Merkle root: source = our account, memo = MEMO_HASH(root),
and one operation, ``bump_sequence`` to 0. A transaction needs at least one
operation, and this is the cheapest valid one: it always succeeds (bumping to
a number at or below the current sequence changes nothing), creates no ledger
entry (``manage_data`` would add a data entry, locking 0.5 XLM of reserve and
failing with op_low_reserve on a thin account), moves no money and needs only
the low threshold. The fee is the same for any single operation. The root is
in the memo, which Horizon reports for every transaction, so it needs no
second copy in account data.

Time bounds: valid from 0 (no clock-skew refusals) until ``valid_seconds``
after signing, so an envelope that was never submitted expires and can be
replaced without risk of both landing.
"""

from __future__ import annotations

from dataclasses import dataclass

from stellar_sdk import Account, HashMemo, Keypair, TransactionBuilder, TransactionEnvelope
from stellar_sdk.exceptions import BadSignatureError, SdkError
from stellar_sdk.operation import BumpSequence

from domain.anchoring.ports import SignedAnchor

VALID_SECONDS = 300


def build_anchor(
    keypair: Keypair,
    *,
    network_passphrase: str,
    sequence: int,
    root: bytes,
    fee: int,
    valid_until: int,
) -> SignedAnchor:
    """Sign the anchor of ``root`` with sequence number ``sequence`` (the account's current + 1).

    ``fee`` is the total in stroops; with one operation it is also the per-operation fee.
    ``valid_until`` is a UNIX time (the envelope's max time).
    """
    if len(root) != 32:
        raise ValueError("a memo hash (Merkle root) must be 32 bytes")
    account = Account(keypair.public_key, sequence - 1)  # the builder adds one
    envelope = (
        TransactionBuilder(account, network_passphrase=network_passphrase, base_fee=fee)
        .add_memo(HashMemo(root))
        .append_bump_sequence_op(bump_to=0)
        .add_time_bounds(0, valid_until)
        .build()
    )
    envelope.sign(keypair)
    return SignedAnchor(
        root=root,
        envelope_xdr=envelope.to_xdr(),
        tx_hash=envelope.hash_hex(),
        sequence=envelope.transaction.sequence,
        fee=envelope.transaction.fee,
    )


def valid_until_of(envelope_xdr: str, network_passphrase: str) -> int | None:
    """The envelope's max time (UNIX seconds), None when it has none."""
    envelope = TransactionEnvelope.from_xdr(envelope_xdr, network_passphrase)
    bounds = envelope.transaction.preconditions and envelope.transaction.preconditions.time_bounds
    if bounds is None or bounds.max_time == 0:
        return None
    return bounds.max_time


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool


def check_envelope(
    envelope_xdr: str,
    *,
    network_passphrase: str,
    source_account: str,
    root: bytes | None,
    tx_hash: str,
) -> list[Check]:
    """Offline checks of an anchor envelope: parsed, signed by ``source_account`` under the
    network passphrase, memo hash == ``root``, hash == ``tx_hash``.

    Every check is reported (a failure does not hide the others), except that an
    envelope that does not parse fails all four.
    """
    names = (
        "envelope parses",
        "envelope is signed by sourceAccount under the network passphrase",
        "envelope memo hash equals the root",
        "envelope hash equals txHash",
    )
    try:
        envelope = TransactionEnvelope.from_xdr(envelope_xdr, network_passphrase)
        transaction = envelope.transaction
        signature_base = envelope.hash()
        computed_hash = envelope.hash_hex()
    except Exception:  # the SDK raises a variety of errors on garbage XDR
        return [Check(name, False) for name in names]
    signed = _signed_by(envelope, signature_base, source_account)
    same_source = transaction.source.account_id == source_account
    memo = transaction.memo
    memo_ok = isinstance(memo, HashMemo) and root is not None and memo.memo_hash == root
    return [
        Check(names[0], True),
        Check(names[1], signed and same_source),
        Check(names[2], memo_ok),
        Check(names[3], computed_hash == tx_hash.lower()),
    ]


def _signed_by(envelope: TransactionEnvelope, signature_base: bytes, account_id: str) -> bool:
    try:
        key = Keypair.from_public_key(account_id)
    except (SdkError, ValueError):
        return False
    hint = key.signature_hint()
    for decorated in envelope.signatures:
        if decorated.signature_hint != hint:
            continue
        try:
            key.verify(signature_base, decorated.signature)
        except BadSignatureError:
            continue
        return True
    return False


def is_operation_bump_to_zero(envelope_xdr: str, network_passphrase: str) -> bool:
    """Whether the envelope holds exactly our one no-op operation (used by tests and checks)."""
    operations = TransactionEnvelope.from_xdr(
        envelope_xdr, network_passphrase
    ).transaction.operations
    return (
        len(operations) == 1
        and isinstance(operations[0], BumpSequence)
        and operations[0].bump_to == 0
    )
