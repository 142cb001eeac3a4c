"""One anchoring run (the ``anchor.batch`` job): batch the waiting records, sign, submit.

Order of work, so no root is lost and none is anchored out of turn:
1. batches signed earlier but not yet on the ledger are submitted first, oldest
   first (their envelopes are kept, so a timed-out submission is resent as is);
2. then records waiting for a batch are gathered, up to ``batch_max`` per batch,
   into a Merkle tree; the batch row, its signed envelope and every record's
   proof commit together *before* the envelope is sent;
3. each new batch is submitted; on landing its records become ``anchored`` and
   their jobs' results gain the transaction hash.
With no Horizon configured (``ledger.submits`` False) steps 1 and 3 are skipped:
batches stay signed-not-submitted until a run with a Horizon sends them.
"""

from __future__ import annotations

import uuid

import msgspec
import structlog

from domain.anchoring.model import AnchorBatch, BatchStatus, Leaf, plan_batch
from domain.anchoring.ports import AnchorLedger, SignedAnchor, UnitOfWork
from domain.clock import Clock
from domain.transactions import UnitOfWorkFactory

log = structlog.get_logger(__name__)

MAX_BATCHES_PER_RUN = 20


class AnchorReport(msgspec.Struct, frozen=True, kw_only=True):
    batches_signed: int
    records_batched: int
    batches_anchored: int
    waiting_for_horizon: bool


async def _submit(
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    ledger: AnchorLedger,
    clock: Clock,
    batch: AnchorBatch,
) -> None:
    kept = SignedAnchor(
        root=batch.root,
        envelope_xdr=batch.envelope_xdr,
        tx_hash=batch.tx_hash,
        sequence=batch.sequence,
        fee=batch.fee,
    )
    landed, transaction = await ledger.submit(kept)
    async with uow_factory() as uow:
        await uow.anchors.anchor(batch.id, landed, transaction.ledger, clock.now())
        await uow.records.mark_anchored(batch.id, landed.tx_hash)
    log.info(
        "anchor_batch_landed",
        batch_id=str(batch.id),
        leaves=batch.leaf_count,
        tx_hash=landed.tx_hash,
        ledger=transaction.ledger,
    )


async def _unanchored(uow_factory: UnitOfWorkFactory[UnitOfWork]) -> list[AnchorBatch]:
    async with uow_factory() as uow:
        return await uow.anchors.unanchored(MAX_BATCHES_PER_RUN)


async def _next_batch(
    uow_factory: UnitOfWorkFactory[UnitOfWork], ledger: AnchorLedger, clock: Clock, batch_max: int
) -> AnchorBatch | None:
    async with uow_factory() as uow:
        records = await uow.records.unbatched(batch_max)
        if not records:
            return None
        plan = plan_batch([Leaf(record.id, record.cid) for record in records])
        signed = await ledger.sign(plan.root)
        batch = AnchorBatch(
            id=uuid.uuid4(),
            root=plan.root,
            leaf_count=len(records),
            status=BatchStatus.SIGNED,
            network=ledger.network_passphrase,
            source_account=ledger.account_id,
            envelope_xdr=signed.envelope_xdr,
            tx_hash=signed.tx_hash,
            sequence=signed.sequence,
            fee=signed.fee,
            ledger=None,
            created_at=clock.now(),
        )
        await uow.anchors.add(batch)
        await uow.records.place_in_batch(batch.id, plan.placements)
    return batch


async def anchor_pending(
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    ledger: AnchorLedger,
    clock: Clock,
    *,
    batch_max: int,
) -> AnchorReport:
    anchored = signed = batched = 0
    if ledger.submits:
        for batch in await _unanchored(uow_factory):
            await _submit(uow_factory, ledger, clock, batch)
            anchored += 1
    while signed < MAX_BATCHES_PER_RUN:
        batch = await _next_batch(uow_factory, ledger, clock, batch_max)
        if batch is None:
            break
        signed += 1
        batched += batch.leaf_count
        if ledger.submits:
            await _submit(uow_factory, ledger, clock, batch)
            anchored += 1
    return AnchorReport(
        batches_signed=signed,
        records_batched=batched,
        batches_anchored=anchored,
        waiting_for_horizon=not ledger.submits and signed > 0,
    )
