"""The roll-up job: recompute the days whose doses changed, then alert on what they show.

A dose taken, skipped, missed or edited late marks its (patient, local day) as changed
(a trigger on ``doses`` does it, whichever code changed the dose); this job recomputes
only those days, in set-based passes of ``ROLLUP_BATCH`` windows, and then looks at the
patients it touched: adherence over the last week below ``LOW_ADHERENCE`` thresholds, or
``MISSED_STREAK`` missed doses in a row, raise (or update) the patient's alert.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from fractions import Fraction
from typing import Any

from domain.adherence.model import Tally
from domain.adherence.ports import RiskSignal, UnitOfWork
from domain.alerts.model import Severity
from domain.alerts.raising import Raised, deliver, raise_alert
from domain.auditing import SYSTEM
from domain.clock import Clock
from domain.jobs.model import Job
from domain.jobs.ports import MessageSender
from domain.notifications.ports import AddressValidator, EmailRenderer, LiveChannel
from domain.settings import Settings
from domain.transactions import UnitOfWorkFactory

ROLLUP_BATCH = 20_000
RECENT_DAYS = 7
MIN_DUE_FOR_ALERT = 4  # fewer doses than this in a week say too little
LOW_ADHERENCE = ((Fraction(1, 2), Severity.HIGH), (Fraction(4, 5), Severity.MEDIUM))
MISSED_STREAK = 3
LOW_RULE, STREAK_RULE = "adherence.low", "adherence.missed_doses"


def low_adherence(recent: Tally) -> tuple[Severity, str] | None:
    """The alert a week's tally calls for, if any: its severity and summary code."""
    if recent.due < MIN_DUE_FOR_ALERT or recent.adherence is None:
        return None
    for below, severity in LOW_ADHERENCE:
        if recent.adherence < below:
            return severity, f"week_adherence_below_{int(below * 100)}_percent"
    return None


def missed_streak(signal: RiskSignal) -> tuple[Severity, str] | None:
    if signal.missed_in_a_row < MISSED_STREAK:
        return None
    return Severity.HIGH, f"missed_{MISSED_STREAK}_doses_in_a_row"


async def roll_up_adherence(
    job: Job,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
    renderer: EmailRenderer,
    addresses: AddressValidator,
    settings: Settings,
    live: LiveChannel,
    sender: MessageSender,
) -> dict[str, Any]:
    windows, touched = 0, set[uuid.UUID]()
    while True:
        async with uow_factory() as uow:
            rolled = await uow.adherence.roll_up(ROLLUP_BATCH)
        windows += rolled.windows
        touched |= rolled.patients
        if rolled.changes < ROLLUP_BATCH:
            break
    raised = await alert_on_risk(
        frozenset(touched),
        uow_factory=uow_factory,
        clock=clock,
        renderer=renderer,
        addresses=addresses,
        settings=settings,
    )
    for one in raised:
        await deliver(one, live=live, sender=sender)
    return {"windowsRecomputed": windows, "patients": len(touched), "alertsRaised": len(raised)}


async def alert_on_risk(
    patients: frozenset[uuid.UUID],
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
    renderer: EmailRenderer,
    addresses: AddressValidator,
    settings: Settings,
) -> list[Raised]:
    """Raise or update the alerts the touched patients' recent doses call for; each patient in
    a transaction of its own (one bad address never holds back the others)."""
    if not patients:
        return []
    now = clock.now()
    async with uow_factory() as uow:
        signals = await uow.adherence.risk_signals(
            patients, (now - timedelta(days=RECENT_DAYS)).date()
        )
    raised: list[Raised] = []
    for signal in signals:
        found = [
            (rule, called)
            for rule, called in (
                (LOW_RULE, low_adherence(signal.recent)),
                (STREAK_RULE, missed_streak(signal)),
            )
            if called is not None
        ]
        if not found:
            continue
        async with uow_factory() as uow:
            for rule, (severity, summary) in found:
                one = await raise_alert(
                    uow,
                    audit=SYSTEM,
                    patient_id=signal.patient_id,
                    rule=rule,
                    severity=severity,
                    summary_code=summary,
                    at=now,
                    renderer=renderer,
                    addresses=addresses,
                    settings=settings,
                )
                if one.created or one.escalated:
                    raised.append(one)
    return raised
