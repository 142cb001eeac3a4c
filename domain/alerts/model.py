"""A health alert, its severities and its life: open -> acknowledged -> resolved.

One alert stays open per patient and rule (the database's partial unique index
says so too): a rule broken again updates it - one more occurrence, the time of
the latest, a severity that only ever rises - instead of raising another. An
escalation re-opens an acknowledged alert (it needs a look again). A resolved
alert is closed for good; the next breach of its rule opens a new one.

Alerts carry codes, never values: ``rule`` names what was checked
(``blood_pressure.high``, ``adherence.missed_doses``), ``summary_code`` what was
found (``hypertensive_crisis``). The reading itself stays sealed in its own store.
"""

from __future__ import annotations

import enum
import re
import uuid
from datetime import datetime

import msgspec

from domain.errors import InvalidTransition, ValidationFailed


class Severity(enum.StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"

    @property
    def rank(self) -> int:
        return _RANKS[self]


_RANKS = {Severity.LOW: 1, Severity.MEDIUM: 2, Severity.HIGH: 3, Severity.CRITICAL: 4}


class AlertStatus(enum.StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


# Not resolved: the one alert per patient and rule that a new breach updates.
LIVE_STATUSES = frozenset({AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED})

# transition -> (the statuses it starts from, the status it leads to)
TRANSITIONS: dict[str, tuple[frozenset[AlertStatus], AlertStatus]] = {
    "acknowledge": (frozenset({AlertStatus.OPEN}), AlertStatus.ACKNOWLEDGED),
    "resolve": (LIVE_STATUSES, AlertStatus.RESOLVED),
}

# Codes only: lower-case words joined by dots or underscores. No room for a value or a name.
CODE_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$"
_CODE = re.compile(CODE_PATTERN)
MAX_CODE_LENGTH = 64


def check_code(value: str, field: str) -> str:
    """A rule name or summary code; anything else (digits first, spaces, values) is refused."""
    if len(value) > MAX_CODE_LENGTH or not _CODE.fullmatch(value):
        raise ValidationFailed(
            f"{field} must be a lower-case code of at most {MAX_CODE_LENGTH} characters",
            field=field,
        )
    return value


class Alert(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    patient_id: uuid.UUID
    rule: str
    severity: Severity
    summary_code: str
    status: AlertStatus
    occurrences: int  # how many breaches this alert stands for
    first_at: datetime  # when the first of them happened (a reading's measured time)
    last_at: datetime  # when the latest did
    escalated_from: Severity | None  # the severity before the latest breach raised it
    acknowledged_by: uuid.UUID | None = None
    acknowledged_at: datetime | None = None
    resolved_by: uuid.UUID | None = None
    resolved_at: datetime | None = None
    created_at: datetime
    updated_at: datetime


class Breach(msgspec.Struct, frozen=True, kw_only=True):
    """One breach of a rule, as a feature reports it to ``raise_alert``."""

    patient_id: uuid.UUID
    rule: str
    severity: Severity
    summary_code: str
    at: datetime


class Upserted(msgspec.Struct, frozen=True):
    """The alert after a breach, and what the breach did to it."""

    alert: Alert
    created: bool  # a new alert (nothing was open for the patient and rule)
    escalated: bool  # an open alert's severity rose

    @property
    def news(self) -> bool:
        """Whether anyone is told: a repeat at the same or a lower severity is not news."""
        return self.created or self.escalated


def check_transition(alert: Alert, transition: str) -> AlertStatus:
    sources, target = TRANSITIONS[transition]
    if alert.status not in sources:
        raise InvalidTransition(f"cannot {transition} an alert that is {alert.status.value}")
    return target


class AlertFilter(msgspec.Struct, frozen=True, kw_only=True):
    """Alerts newest first. ``patient_id``: one patient's; ``doctor_id``: those of the doctor's
    actively connected patients; ``reader``: whose read marks to show."""

    patient_id: uuid.UUID | None = None
    doctor_id: uuid.UUID | None = None
    reader: uuid.UUID | None = None
    statuses: frozenset[AlertStatus] = LIVE_STATUSES
    limit: int = 50
    cursor: str | None = None


class AlertView(msgspec.Struct, frozen=True, kw_only=True):
    """An alert as one reader sees it: with when they read it."""

    alert: Alert
    read_at: datetime | None


class AlertPage(msgspec.Struct, frozen=True):
    items: list[AlertView]
    next_cursor: str | None
