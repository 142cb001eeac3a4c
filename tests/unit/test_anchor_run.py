"""An anchoring run through fakes: batches of waiting records, proofs to one root, the ledger."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from domain.anchoring.merkle import ProofStep, verify
from domain.anchoring.model import BatchStatus
from domain.anchoring.proof import leaf_of
from domain.anchoring.run import anchor_pending
from domain.clock import ManualClock
from domain.errors import TransientFailure
from tests.fakes.anchoring import (
    FakeAnchorableRecords,
    FakeAnchorBatchRepository,
    FakeLedger,
    WaitingRecord,
)
from tests.fakes.database import FakeUnitOfWorkFactory

START = datetime(2031, 3, 9, tzinfo=UTC)


@pytest.fixture
def uow() -> FakeUnitOfWorkFactory:
    return FakeUnitOfWorkFactory(
        {"anchors": FakeAnchorBatchRepository, "records": FakeAnchorableRecords},
        clock=ManualClock(START),
    )


def waiting(uow: FakeUnitOfWorkFactory, count: int) -> list[WaitingRecord]:
    made = [
        WaitingRecord(id=uuid.uuid4(), cid=f"bafk-{n}", created_at=START + timedelta(seconds=n))
        for n in range(count)
    ]
    table = uow.database.table("waiting_records")
    for record in made:
        table[record.id] = record
    return made


def records(uow: FakeUnitOfWorkFactory) -> list[WaitingRecord]:
    return list(uow.database.table("waiting_records").values())


def batches(uow: FakeUnitOfWorkFactory):
    return list(uow.database.table("anchor_batches").values())


async def test_waiting_records_land_in_batches_whose_proofs_lead_to_their_root(uow) -> None:
    waiting(uow, 7)
    ledger = FakeLedger()

    report = await anchor_pending(uow, ledger, uow.clock, batch_max=3)

    assert (report.batches_signed, report.records_batched, report.batches_anchored) == (3, 7, 3)
    roots = {batch.id: batch.root for batch in batches(uow)}
    assert all(batch.status is BatchStatus.ANCHORED for batch in batches(uow))
    for record in records(uow):
        steps = [ProofStep(s.side, bytes.fromhex(s.hash)) for s in record.placement.proof]
        assert verify(leaf_of(record.cid), steps, roots[record.batch_id])
        assert record.tx_hash is not None
    assert ledger.sequence == 103  # one transaction per batch, in order


async def test_without_a_horizon_batches_are_signed_kept_and_sent_by_a_later_run(uow) -> None:
    waiting(uow, 2)
    offline = FakeLedger(submits=False)
    report = await anchor_pending(uow, offline, uow.clock, batch_max=10)
    assert report.waiting_for_horizon and report.batches_anchored == 0
    [kept] = batches(uow)
    assert kept.status is BatchStatus.SIGNED

    online = FakeLedger()
    again = await anchor_pending(uow, online, uow.clock, batch_max=10)

    assert again.batches_anchored == 1 and again.batches_signed == 0
    [landed] = batches(uow)
    assert landed.id == kept.id and landed.status is BatchStatus.ANCHORED
    assert online.landed[landed.tx_hash].memo_hash == kept.root


async def test_a_ledger_that_is_down_keeps_the_batch_to_resubmit_the_same_root(uow) -> None:
    waiting(uow, 1)
    ledger = FakeLedger()
    ledger.down = True
    with pytest.raises(TransientFailure):
        await anchor_pending(uow, ledger, uow.clock, batch_max=10)
    [kept] = batches(uow)  # written with its envelope before the send
    assert kept.status is BatchStatus.SIGNED

    ledger.down = False
    await anchor_pending(uow, ledger, uow.clock, batch_max=10)

    [landed] = batches(uow)
    assert landed.id == kept.id and landed.root == kept.root
    assert len(ledger.landed) == 1  # one root, one transaction


async def test_nothing_waiting_means_nothing_signed(uow) -> None:
    ledger = FakeLedger()
    report = await anchor_pending(uow, ledger, uow.clock, batch_max=10)
    assert report.batches_signed == 0 and ledger.signed == 0
