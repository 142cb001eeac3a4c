"""Alerts from a vital-sign reading: the patient's rules (defaults and overrides) applied to
the reading's quantities, and an alert raised for every rule it breaks.

The vitals feature calls ``alerts_for_reading`` in the transaction that stores the
reading; it hands over the reading's type and quantities, never the reading itself,
so this feature does not depend on the vitals one.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime

from domain.alerts.ports import UnitOfWork
from domain.alerts.raising import Raised, raise_alert
from domain.alerts.rules import evaluate, with_overrides
from domain.alerts.thresholds import DEFAULT_RULES
from domain.auditing import AuditContext
from domain.notifications.ports import AddressValidator, EmailRenderer
from domain.settings import Settings


async def alerts_for_reading(
    uow: UnitOfWork,
    *,
    audit: AuditContext,
    patient_id: uuid.UUID,
    vital: str,
    quantities: Mapping[str, float],
    at: datetime,
    renderer: EmailRenderer,
    addresses: AddressValidator,
    settings: Settings,
) -> list[Raised]:
    rules = with_overrides(DEFAULT_RULES, await uow.alert_rules.of(patient_id))
    return [
        await raise_alert(
            uow,
            audit=audit,
            patient_id=patient_id,
            rule=finding.rule,
            severity=finding.severity,
            summary_code=finding.code,
            at=at,
            renderer=renderer,
            addresses=addresses,
            settings=settings,
        )
        for finding in evaluate(vital, quantities, rules)
    ]
