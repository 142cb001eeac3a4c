"""The outside OCR provider's answers, as the webhooks feature hands them over (verified,
stored sealed, once per webhook id), and the scans it never answered.

``ocr.completed`` carries the lines the provider read for a reference: they become the
scan's reading by the path an engine's lines take (``keep_reading``: the same parser, the
reading sealed). ``ocr.failed`` says it could not read the scan. Only a scan still awaiting
moves: a second answer is a ``duplicate``, an answer after the scan timed out or failed is
``late`` and changes nothing (the scan was shown failed; upload it again). Every outcome is
a label on the delivery, for operators; the lines are never logged nor put in a job.

``time_out_scans`` (the ``scan.provider_timeout`` job, planned every
OCR_PROVIDER_CHECK_INTERVAL_SECONDS when there is work) fails the scans still awaiting
OCR_PROVIDER_TIMEOUT_SECONDS after they were sent, with the reason ``ocr_provider_timeout``.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any, TypeVar

import msgspec

from domain.auditing import SYSTEM, AuditEntry
from domain.clock import Clock
from domain.errors import PermanentFailure
from domain.jobs.model import Job
from domain.scans.awaiting import (
    ProviderFailure,
    ProviderResult,
    ProviderStatus,
    lines_of,
)
from domain.scans.files import StoredScan
from domain.scans.kind import SCANS
from domain.scans.ports import UnitOfWork
from domain.scans.reading import keep_reading
from domain.settings import Settings
from domain.transactions import UnitOfWorkFactory
from domain.webhooks.model import WebhookEvent

PROVIDER_ENGINE = "provider"
TIMEOUT_REASON = "ocr_provider_timeout"
BATCH = 200
SHOWN_SCAN_IDS = 100

T = TypeVar("T")


def _data(event: WebhookEvent, shape: type[T]) -> T:
    try:
        return msgspec.convert(event.data, shape, strict=False)
    except msgspec.ValidationError:
        raise PermanentFailure(
            "the OCR callback's data is not what the provider sends", code="callback_invalid"
        ) from None


def _unknown() -> PermanentFailure:
    return PermanentFailure("no scan was sent under this reference", code="unknown_reference")


async def on_ocr_completed(
    event: WebhookEvent, *, uow_factory: UnitOfWorkFactory[UnitOfWork], clock: Clock
) -> str:
    """The webhooks feature's handler of ("ocr", "ocr.completed")."""
    result = _data(event, ProviderResult)
    try:
        lines = lines_of(result)
    except ValueError:
        raise PermanentFailure(
            "the OCR callback's lines are not lines an engine reads", code="callback_invalid"
        ) from None
    async with uow_factory() as uow:
        request = await uow.scan_provider_requests.by_reference(result.reference)
        if request is None:
            raise _unknown()
        if request.status is ProviderStatus.ANSWERED:
            return "duplicate"
        if request.status is not ProviderStatus.AWAITING:
            return "late"
        scan = await uow.files[SCANS.table].get(request.scan_id)
        now = clock.now()
        if not isinstance(scan, StoredScan):  # deleted while the provider read it
            await uow.scan_provider_requests.finish(
                request.scan_id, ProviderStatus.FAILED, "scan_deleted", now
            )
            return "scan_deleted"
        await keep_reading(uow, scan, lines, PROVIDER_ENGINE, clock)
        await uow.scan_provider_requests.finish(scan.id, ProviderStatus.ANSWERED, None, now)
    return "read"


async def on_ocr_failed(
    event: WebhookEvent, *, uow_factory: UnitOfWorkFactory[UnitOfWork], clock: Clock
) -> str:
    """The webhooks feature's handler of ("ocr", "ocr.failed"): the scan failed, visibly."""
    failure = _data(event, ProviderFailure)
    async with uow_factory() as uow:
        request = await uow.scan_provider_requests.by_reference(failure.reference)
        if request is None:
            raise _unknown()
        if request.status is not ProviderStatus.AWAITING:
            return "late" if request.status is not ProviderStatus.ANSWERED else "duplicate"
        await uow.scan_provider_requests.finish(
            request.scan_id, ProviderStatus.FAILED, "ocr_provider_failed", clock.now()
        )
    return "failed"


async def time_out_scans(
    job: Job,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
    settings: Settings,
) -> dict[str, Any]:
    timed_out: list[uuid.UUID] = []
    while True:
        now = clock.now()
        cutoff = now - timedelta(seconds=settings.ocr_provider_timeout_seconds)
        async with uow_factory() as uow:
            due = await uow.scan_provider_requests.overdue(cutoff, BATCH)
            for scan_id in due:
                ended = await uow.scan_provider_requests.finish(
                    scan_id, ProviderStatus.TIMED_OUT, TIMEOUT_REASON, now
                )
                if not ended:  # answered meanwhile
                    continue
                timed_out.append(scan_id)
                entry = AuditEntry(
                    action="scan.provider_timeout",
                    resource_type="scan",
                    resource_id=str(scan_id),
                    changed_fields=("status",),
                )
                await uow.audit.record(SYSTEM, entry)
        if len(due) < BATCH:
            return {
                "timedOut": len(timed_out),
                "scanIds": [str(scan_id) for scan_id in timed_out[:SHOWN_SCAN_IDS]],
            }
