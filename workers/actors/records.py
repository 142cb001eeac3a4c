"""Records, documents and their anchoring: the handlers behind the IPFS and Stellar job kinds."""

from __future__ import annotations

from typing import Any

from domain.adapters.bootstrap import Services
from domain.anchor_run import anchor_pending
from domain.content_retention import unpin_expired
from domain.document_storage import store_document
from domain.errors import PermanentFailure, TransientFailure
from domain.jobs import Job
from domain.record_storage import store_record

ANCHOR_LOCK = "anchor.batch"


async def record_store(job: Job, services: Services) -> dict[str, Any]:
    return await store_record(job, services.uow, services.content, services.cipher, services.clock)


async def document_store(job: Job, services: Services) -> dict[str, Any]:
    return await store_document(
        job, services.uow, services.content, services.cipher, services.clock
    )


async def anchor_batch(job: Job, services: Services) -> dict[str, Any]:
    if services.ledger is None:
        raise PermanentFailure(
            "no STELLAR_SECRET_KEY is configured: nothing can be anchored", code="no_ledger_key"
        )
    async with services.exclusive(ANCHOR_LOCK) as held:
        if not held:  # another run holds the account's sequence; try again shortly
            raise TransientFailure("another anchoring run is in progress", code="anchor_busy")
        report = await anchor_pending(
            services.uow,
            services.ledger,
            services.clock,
            batch_max=services.settings.anchor_batch_max,
        )
    return {
        "batchesSigned": report.batches_signed,
        "recordsBatched": report.records_batched,
        "batchesAnchored": report.batches_anchored,
        "waitingForHorizon": report.waiting_for_horizon,
    }


async def content_unpin(job: Job, services: Services) -> dict[str, Any]:
    report = await unpin_expired(
        services.uow, services.content, services.clock, services.settings.content_retention_days
    )
    return {"records": report.records, "documents": report.documents}
