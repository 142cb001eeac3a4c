"""The scans feature's job kinds: the file pipeline's storing job for scans, then reading one
(declared with the kind, domain/scans/kind.py, which enqueues it), and the sweep that fails
scans the outside OCR provider never answered (domain/scans/provider.py)."""

from __future__ import annotations

from datetime import timedelta

from domain.clock import Clock
from domain.jobs.model import Every, JobKind, Periodic
from domain.jobs.ports import MessageSender, Submission
from domain.jobs.submit import plan_when_found
from domain.scans.kind import SCAN_READ, SCANS
from domain.scans.ports import UnitOfWork
from domain.scans.provider import time_out_scans
from domain.settings import Settings
from domain.transactions import UnitOfWorkFactory

SCAN_STORE = SCANS.store_job


async def plan_timeouts(
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    sender: MessageSender,
    clock: Clock,
    settings: Settings,
) -> Submission | None:
    """A sweep when a scan has awaited the provider too long (most runs find none)."""
    now = clock.now()
    cutoff = now - timedelta(seconds=settings.ocr_provider_timeout_seconds)
    return await plan_when_found(
        lambda uow: uow.scan_provider_requests.overdue(cutoff, 1),
        SCAN_PROVIDER_TIMEOUT,
        now,
        settings.ocr_provider_check_interval_seconds,
        uow_factory=uow_factory,
        sender=sender,
    )


SCAN_PROVIDER_TIMEOUT = JobKind(
    name="scan.provider_timeout",
    queue="default",
    handler=time_out_scans,
    retry_delays=(5.0, 30.0, 120.0),
    timeout_seconds=300.0,
    periodic=Periodic(
        when=Every(setting="ocr_provider_check_interval_seconds"), plan=plan_timeouts
    ),
)

__all__ = ["SCAN_PROVIDER_TIMEOUT", "SCAN_READ", "SCAN_STORE"]
