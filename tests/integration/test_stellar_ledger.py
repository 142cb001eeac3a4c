"""StellarLedger against a local Horizon-compatible server (tests/support/horizon.py).

The server checks what Horizon and stellar-core check (passphrase, signature,
sequence, fee, time bounds, one transaction per account per ledger), so each
test drives the real adapter over HTTP through one of the ledger's usual
refusals or faults and looks at what landed.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from stellar_sdk import Keypair, Network

from domain.adapters.anchoring.stellar_envelope import is_operation_bump_to_zero, valid_until_of
from domain.adapters.anchoring.stellar_ledger import StellarLedger
from domain.clock import ManualClock
from domain.errors import PermanentFailure, TransientFailure
from domain.settings import SettingsError
from tests.support.horizon import HorizonServer

TESTNET = Network.TESTNET_NETWORK_PASSPHRASE
ROOT = hashlib.sha256(b"a batch of CIDs").digest()
OTHER_ROOT = hashlib.sha256(b"another batch").digest()


@pytest.fixture
def keypair() -> Keypair:
    return Keypair.random()


@pytest.fixture
async def make_ledger(
    horizon: HorizonServer, keypair: Keypair
) -> AsyncIterator[Callable[..., StellarLedger]]:
    """StellarLedgers on the test Horizon with short waits; closed after the test."""
    made: list[StellarLedger] = []

    def make(**options: Any) -> StellarLedger:
        fields: dict[str, Any] = {
            "secret_key": keypair.secret,
            "network_passphrase": TESTNET,
            "horizon_url": horizon.url,
            "timeout_seconds": 2.0,
            "first_wait_seconds": 0.05,
            "max_wait_seconds": 0.2,
            "tries": 4,
        }
        ledger = StellarLedger(**{**fields, **options})
        made.append(ledger)
        return ledger

    yield make
    for ledger in made:
        await ledger.close()


@pytest.fixture
def funded(horizon: HorizonServer, keypair: Keypair) -> int:
    return horizon.fund(keypair.public_key)


async def test_an_anchor_lands_with_the_root_as_memo(
    make_ledger: Callable[..., StellarLedger], horizon: HorizonServer, funded: int
) -> None:
    ledger = make_ledger()
    assert ledger.submits
    anchor = await ledger.sign(ROOT)
    assert anchor.sequence == funded + 1
    assert anchor.fee == 100
    assert is_operation_bump_to_zero(anchor.envelope_xdr, TESTNET)

    landed, record = await ledger.submit(anchor)

    assert landed == anchor
    assert record.tx_hash == anchor.tx_hash
    assert record.memo_hash == ROOT
    assert record.successful
    assert record.source_account == ledger.account_id
    assert record.ledger > 1000
    assert [tx["hash"] for tx in horizon.landed()] == [anchor.tx_hash]
    assert horizon.sequence_of(ledger.account_id) == anchor.sequence
    assert await ledger.lookup(anchor.tx_hash) == record
    assert await ledger.lookup("00" * 32) is None


async def test_a_sequence_moved_behind_our_back_is_reloaded_and_resigned(
    make_ledger: Callable[..., StellarLedger], horizon: HorizonServer, funded: int
) -> None:
    ledger = make_ledger()
    stale = await ledger.sign(ROOT)
    horizon.bump_sequence(ledger.account_id, by=3)

    landed, record = await ledger.submit(stale)

    assert landed.tx_hash != stale.tx_hash
    assert landed.sequence == funded + 4
    assert landed.root == ROOT
    assert record.memo_hash == ROOT
    assert [tx["hash"] for tx in horizon.landed()] == [landed.tx_hash]


async def test_horizon_down_is_transient_and_the_same_anchor_lands_once_it_is_up(
    make_ledger: Callable[..., StellarLedger], horizon: HorizonServer, funded: int
) -> None:
    ledger = make_ledger()
    anchor = await ledger.sign(ROOT)
    horizon.down()
    with pytest.raises(TransientFailure) as caught:
        await ledger.submit(anchor)
    assert caught.value.code == "stellar_unreachable"
    assert caught.value.message == "the ledger did not answer"
    with pytest.raises(TransientFailure):
        await ledger.sign(OTHER_ROOT)

    horizon.up()
    landed, record = await ledger.submit(anchor)

    assert landed == anchor
    assert record.memo_hash == ROOT
    assert len(horizon.landed()) == 1


async def test_a_timeout_after_landing_resends_the_same_envelope_and_lands_once(
    make_ledger: Callable[..., StellarLedger], horizon: HorizonServer, funded: int
) -> None:
    ledger = make_ledger(timeout_seconds=1.0)
    anchor = await ledger.sign(ROOT)
    horizon.hang_next(3.0, after_landing=True)

    landed, record = await ledger.submit(anchor)

    assert landed == anchor
    assert record.tx_hash == anchor.tx_hash
    assert horizon.submissions == 2  # the same envelope, sent again
    assert [tx["hash"] for tx in horizon.landed()] == [anchor.tx_hash]


async def test_a_dropped_answer_is_found_by_hash_when_horizon_says_bad_seq(
    make_ledger: Callable[..., StellarLedger], horizon: HorizonServer, funded: int
) -> None:
    horizon.dedupe_by_hash = False  # a resubmission now meets tx_bad_seq, not the old result
    ledger = make_ledger()
    anchor = await ledger.sign(ROOT)
    horizon.drop_next_response()

    landed, record = await ledger.submit(anchor)

    assert landed == anchor
    assert record.tx_hash == anchor.tx_hash
    assert record.memo_hash == ROOT
    assert len(horizon.landed()) == 1


async def test_try_again_later_waits_and_the_same_envelope_lands(
    make_ledger: Callable[..., StellarLedger], horizon: HorizonServer, funded: int
) -> None:
    ledger = make_ledger()
    anchor = await ledger.sign(ROOT)
    horizon.try_again_later(1)  # Horizon holds it, then answers 504 timeout

    landed, _ = await ledger.submit(anchor)

    assert landed == anchor
    assert horizon.submissions == 2
    assert len(horizon.landed()) == 1


async def test_503_waits_and_the_same_envelope_lands(
    make_ledger: Callable[..., StellarLedger], horizon: HorizonServer, funded: int
) -> None:
    ledger = make_ledger()
    anchor = await ledger.sign(ROOT)
    horizon.unavailable(2)

    landed, _ = await ledger.submit(anchor)

    assert landed == anchor
    assert horizon.submissions == 1  # the two 503s were answered before any processing
    assert len(horizon.landed()) == 1


async def test_a_ledger_that_stays_busy_is_transient(
    make_ledger: Callable[..., StellarLedger], horizon: HorizonServer, funded: int
) -> None:
    ledger = make_ledger(tries=2)
    anchor = await ledger.sign(ROOT)
    horizon.unavailable(10)
    with pytest.raises(TransientFailure) as caught:
        await ledger.submit(anchor)
    assert caught.value.code == "stellar_busy"
    assert horizon.landed() == []


async def test_two_anchors_in_one_ledger_both_land_one_per_ledger(
    make_ledger: Callable[..., StellarLedger], horizon: HorizonServer, funded: int
) -> None:
    """Signed from the same sequence, submitted at once: one lands, the other meets
    TRY_AGAIN_LATER, then tx_bad_seq, and is re-signed for a later ledger."""
    ledger = make_ledger()
    first, second = await ledger.sign(ROOT), await ledger.sign(OTHER_ROOT)
    assert first.sequence == second.sequence

    results = await asyncio.gather(ledger.submit(first), ledger.submit(second))

    records = [record for _, record in results]
    assert {record.memo_hash for record in records} == {ROOT, OTHER_ROOT}
    assert records[0].ledger != records[1].ledger
    assert len(horizon.landed()) == 2


async def test_a_fee_surge_is_met_with_a_higher_fee_on_the_same_sequence(
    make_ledger: Callable[..., StellarLedger], horizon: HorizonServer, funded: int
) -> None:
    ledger = make_ledger()
    anchor = await ledger.sign(ROOT)
    horizon.min_fee = 350

    landed, record = await ledger.submit(anchor)

    assert landed.fee == 350  # the fee core named (above the doubled 200)
    assert landed.sequence == anchor.sequence
    assert landed.tx_hash != anchor.tx_hash
    assert record.memo_hash == ROOT
    assert [tx["fee_charged"] for tx in horizon.landed()] == ["350"]


async def test_doubling_stops_at_the_cap(
    make_ledger: Callable[..., StellarLedger], horizon: HorizonServer, funded: int
) -> None:
    ledger = make_ledger(max_fee=1_000)
    anchor = await ledger.sign(ROOT)
    horizon.min_fee = 5_000
    with pytest.raises(TransientFailure) as caught:
        await ledger.submit(anchor)
    assert caught.value.code == "stellar_fee_above_cap"
    assert horizon.landed() == []


async def test_a_wrong_network_passphrase_is_refused_for_good(
    make_ledger: Callable[..., StellarLedger], horizon: HorizonServer, funded: int
) -> None:
    ledger = make_ledger(network_passphrase=Network.PUBLIC_NETWORK_PASSPHRASE)
    anchor = await ledger.sign(ROOT)
    with pytest.raises(PermanentFailure) as caught:
        await ledger.submit(anchor)
    assert caught.value.code == "stellar_bad_auth"
    assert horizon.landed() == []


async def test_an_unfunded_account_is_refused_for_good(
    make_ledger: Callable[..., StellarLedger], horizon: HorizonServer
) -> None:
    ledger = make_ledger()
    with pytest.raises(PermanentFailure) as caught:
        await ledger.sign(ROOT)
    assert caught.value.code == "stellar_account_missing"

    offline = make_ledger(horizon_url=None)
    with pytest.raises(PermanentFailure) as caught:
        await ledger.submit(await offline.sign(ROOT))
    assert caught.value.code == "stellar_account_missing"


async def test_an_account_that_cannot_pay_is_refused_for_good(
    make_ledger: Callable[..., StellarLedger], horizon: HorizonServer, keypair: Keypair
) -> None:
    horizon.fund(keypair.public_key, xlm=1)  # below the two base reserves
    ledger = make_ledger()
    with pytest.raises(PermanentFailure) as caught:
        await ledger.submit(await ledger.sign(ROOT))
    assert caught.value.code == "stellar_insufficient_balance"


async def test_signed_offline_then_submitted_with_a_stale_sequence(
    make_ledger: Callable[..., StellarLedger], horizon: HorizonServer, funded: int
) -> None:
    offline = make_ledger(horizon_url=None)
    assert not offline.submits
    kept = await offline.sign(ROOT)
    assert (kept.sequence, (await offline.sign(OTHER_ROOT)).sequence) == (1, 2)
    with pytest.raises(TransientFailure) as caught:
        await offline.submit(kept)
    assert caught.value.code == "stellar_not_configured"

    online = make_ledger()
    landed, record = await online.submit(kept)

    assert landed.sequence == funded + 1
    assert landed.tx_hash != kept.tx_hash
    assert record.memo_hash == ROOT
    assert len(horizon.landed()) == 1


async def test_an_envelope_kept_past_its_time_bounds_is_resigned(
    make_ledger: Callable[..., StellarLedger], horizon: HorizonServer, funded: int
) -> None:
    long_ago = ManualClock(datetime.now(UTC) - timedelta(minutes=30))
    offline = make_ledger(horizon_url=None, clock=long_ago)
    expired = await offline.sign(ROOT)
    valid_until = valid_until_of(expired.envelope_xdr, TESTNET)
    assert valid_until is not None
    assert valid_until < datetime.now(UTC).timestamp()

    landed, record = await make_ledger().submit(expired)

    assert landed.tx_hash != expired.tx_hash
    assert record.memo_hash == ROOT
    assert len(horizon.landed()) == 1


async def test_a_root_already_on_the_ledger_is_not_anchored_twice(
    make_ledger: Callable[..., StellarLedger], horizon: HorizonServer, funded: int
) -> None:
    """An envelope we no longer hold (a crash after a re-sign) landed; the kept, stale one
    meets tx_bad_seq, and the account's history shows the root is already there."""
    ledger = make_ledger()
    landed_before, _ = await ledger.submit(await ledger.sign(ROOT))
    stale = await make_ledger(horizon_url=None).sign(ROOT)

    landed, record = await ledger.submit(stale)

    assert landed == landed_before
    assert record.tx_hash == landed_before.tx_hash
    assert len(horizon.landed()) == 1


def test_a_bad_secret_is_a_settings_error(horizon: HorizonServer) -> None:
    with pytest.raises(SettingsError) as caught:
        StellarLedger("SNOTASECRET", TESTNET, horizon.url)
    assert "SNOTASECRET" not in str(caught.value)
