"""In-app notifications: a user's notices, read or not, delivered live to connected clients.

A feature that has news for someone calls ``notify`` inside its own
transaction, so the notice commits with the change it reports (a connection
requested, a prescription activated, a reading out of range) or not at all;
after the commit it hands the notices to ``announce``, which tells live
clients their event id over the platform's channel (Redis pub/sub: only ids
travel there, never the notice, whose fields may be PHI and are sealed at rest).
The store in PostgreSQL is the truth: a client that reconnects catches up
from the last event id it saw, so a lost announcement loses nothing.

A user may also want some kinds by e-mail (their preferences); the feature
passes the e-mail it would send, and ``notify`` enqueues it in the same
transaction when the user asked for it.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

import msgspec

from domain.errors import ValidationFailed

MAX_FIELDS = 20
MAX_FIELD_LENGTH = 500
PAGE_MAX = 100


class NoticeKind(enum.StrEnum):
    """What a notice is about; clients switch on it (a WebSocket event's ``type``)."""

    CONNECTION_REQUEST = "connection.request"
    CONNECTION_ACCEPTED = "connection.accepted"
    PRESCRIPTION_UPDATED = "prescription.updated"
    DOSE_REMINDER = "dose.reminder"
    HEALTH_ALERT = "health.alert"
    PAYMENT_RECEIPT = "payment.receipt"
    PAYMENT_REVIEW = "payment.review"  # to admins: a paid transaction that completed nothing
    SUBSCRIPTION_RENEWAL = "subscription.renewal"
    CONSULTATION_UPDATE = "consultation.update"  # held, confirmed, released, cancelled ...
    CONSULTATION_REMINDER = "consultation.reminder"


NoticeValue = str | int | bool | None


class Notice(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    seq: int  # the event id: ascending per store, what a live client resumes from
    user_id: uuid.UUID
    kind: NoticeKind
    data: dict[str, NoticeValue]
    created_at: datetime
    read_at: datetime | None = None


class NoticePage(msgspec.Struct, frozen=True):
    notices: list[Notice]
    next_cursor: str | None


class Preference(msgspec.Struct, frozen=True):
    kind: NoticeKind
    email: bool


def check_data(data: dict[str, NoticeValue]) -> dict[str, NoticeValue]:
    """A notice's fields: few, flat and short; ids and labels a client shows, nothing else."""
    if len(data) > MAX_FIELDS:
        raise ValidationFailed("a notice holds at most 20 fields", field="data")
    for name, value in data.items():
        if not name or len(name) > 64:
            raise ValidationFailed("a notice's field names are 1 to 64 characters", field="data")
        if isinstance(value, str) and len(value) > MAX_FIELD_LENGTH:
            raise ValidationFailed(
                "a notice's text fields are at most 500 characters", field="data"
            )
    return dict(data)


def email_wanted(preferences: dict[NoticeKind, bool], kind: NoticeKind) -> bool:
    """By default a notice stays in the app; a user opts in to e-mail per kind."""
    return preferences.get(kind, False)
