"""Scan quotas: a plan allows so many scans a calendar month (UTC), and an upload over the
allowance is refused before its job is queued.

Who pays is the patient: their live subscription's plan (``ocrScansPerMonth``), else the
free plan, whoever uploads (a connected doctor's upload for a patient counts against the
patient's plan). What is counted: every scan of the patient made since the month began
(deleted ones too: they were read) and every scan upload still waiting for its storing job.
The count runs in the upload's own transaction under a lock on the patient's quota, so two
uploads racing for the last scan of the month are counted one after the other: one wins.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Protocol

import msgspec

from domain.errors import Forbidden
from domain.subscriptions.model import FREE_PLAN, Entitlement, applicable_plan, entitlement
from domain.subscriptions.ports import PlanRepository, SubscriptionRepository


class ScanUsage(Protocol):
    async def lock_and_count(self, patient_id: uuid.UUID, since: datetime) -> int:
        """Take the patient's quota lock (held to the end of the transaction), then count
        their scans and waiting scan uploads since ``since``."""
        ...

    async def count(self, patient_id: uuid.UUID, since: datetime) -> int:
        """The same count, without the lock (to show it, not to admit an upload)."""
        ...


class QuotaUnitOfWork(Protocol):
    scan_usage: ScanUsage
    plans: PlanRepository
    subscriptions: SubscriptionRepository


class ScanQuotaExhausted(Forbidden):
    """The patient's plan allows no more scans this month (403; the body says how many it
    allows and when the count starts again)."""

    code = "scan_quota_exhausted"

    def __init__(self, allowed: int, resets_at: datetime) -> None:
        super().__init__(
            f"this month's scans are used up ({allowed} a month on this plan); more from "
            f"{resets_at.date().isoformat()}, or with a larger plan"
        )
        self.extensions = {"allowance": allowed, "resetsAt": resets_at.isoformat()}


def month_of(now: datetime) -> tuple[datetime, datetime]:
    """The calendar month (UTC) that ``now`` is in: its first instant and the next month's."""
    utc = now.astimezone(UTC)
    start = datetime(utc.year, utc.month, 1, tzinfo=UTC)
    following = datetime(utc.year + utc.month // 12, utc.month % 12 + 1, 1, tzinfo=UTC)
    return start, following


class ScanAllowance(msgspec.Struct, frozen=True):
    """A patient's scans this month: the plan that sets the allowance (their live
    subscription's, else the free plan), how many it allows, how many are used."""

    plan: str
    allowed: int
    used: int
    period_start: datetime
    resets_at: datetime

    @property
    def remaining(self) -> int:
        return max(0, self.allowed - self.used)


async def _allowed(uow: QuotaUnitOfWork, patient_id: uuid.UUID, now: datetime) -> tuple[str, int]:
    """The plan whose allowance applies to ``patient_id`` now, and that allowance."""
    subscription = await uow.subscriptions.live_of(patient_id)
    plan = await uow.plans.get(subscription.plan_code) if subscription else None
    free = await uow.plans.get(FREE_PLAN)
    applied = applicable_plan(subscription, plan, free, now)
    allowed = entitlement(applied, Entitlement.OCR_SCANS_PER_MONTH)
    return (applied.code if applied is not None else FREE_PLAN), allowed


async def admit_scan(uow: QuotaUnitOfWork, patient_id: uuid.UUID, now: datetime) -> None:
    """Refuse (ScanQuotaExhausted) one more scan of ``patient_id`` over their plan's allowance."""
    start, resets_at = month_of(now)
    used = await uow.scan_usage.lock_and_count(patient_id, start)
    _, allowed = await _allowed(uow, patient_id, now)
    if used >= allowed:
        raise ScanQuotaExhausted(allowed, resets_at)


async def usage_of(uow: QuotaUnitOfWork, patient_id: uuid.UUID, now: datetime) -> ScanAllowance:
    """What ``admit_scan`` would count for ``patient_id`` now, as a figure to show."""
    start, resets_at = month_of(now)
    used = await uow.scan_usage.count(patient_id, start)
    plan, allowed = await _allowed(uow, patient_id, now)
    return ScanAllowance(
        plan=plan, allowed=allowed, used=used, period_start=start, resets_at=resets_at
    )
