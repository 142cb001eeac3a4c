"""Doctor-patient connections: the link that lets a doctor see a patient's data.

A connection starts ``pending``, either as a patient's request to a doctor or
as a doctor's invitation (a one-time token the doctor hands to a patient; the
patient is unknown until they accept it). The other side answers: ``active``
or ``rejected``. Either party may later revoke an active one. A pending
connection left unanswered expires; it is shown as ``expired`` from then on
and stored as such once something needs the pair again, so a rejected,
revoked or expired pair may always connect anew. At most one pending or
active connection exists per pair (the database enforces it too).
"""

from __future__ import annotations

import enum
import hashlib
import secrets
import uuid
from datetime import datetime, timedelta

import msgspec

from domain.errors import InvalidTransition, ValidationFailed


class ConnectionStatus(enum.StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    REJECTED = "rejected"
    REVOKED = "revoked"
    EXPIRED = "expired"


class Side(enum.StrEnum):
    """Which side of a connection someone is on; also who started it."""

    PATIENT = "patient"
    DOCTOR = "doctor"


LIVE_STATUSES = frozenset({ConnectionStatus.PENDING, ConnectionStatus.ACTIVE})

INVITATION_TTL = timedelta(days=7)
MIN_INVITATION_TTL = timedelta(hours=1)
MAX_INVITATION_TTL = timedelta(days=30)
# A patient's request expires too, so an unanswered one cannot block the pair forever.
REQUEST_TTL = timedelta(days=30)

# transition -> (the status it starts from, the status it leads to)
TRANSITIONS: dict[str, tuple[ConnectionStatus, ConnectionStatus]] = {
    "accept": (ConnectionStatus.PENDING, ConnectionStatus.ACTIVE),
    "reject": (ConnectionStatus.PENDING, ConnectionStatus.REJECTED),
    "revoke": (ConnectionStatus.ACTIVE, ConnectionStatus.REVOKED),
    "expire": (ConnectionStatus.PENDING, ConnectionStatus.EXPIRED),
}

# Transitions only the side that did not start the connection may take.
ANSWERS = frozenset({"accept", "reject"})


class Connection(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    doctor_id: uuid.UUID
    patient_id: uuid.UUID | None  # None until a patient accepts a doctor's invitation
    status: ConnectionStatus
    initiated_by: Side
    expires_at: datetime | None
    created_at: datetime
    updated_at: datetime

    def status_at(self, now: datetime) -> ConnectionStatus:
        """The status as of ``now``: a pending connection past its expiry is expired."""
        if (
            self.status is ConnectionStatus.PENDING
            and self.expires_at is not None
            and self.expires_at <= now
        ):
            return ConnectionStatus.EXPIRED
        return self.status

    @property
    def parties(self) -> tuple[uuid.UUID | None, uuid.UUID]:
        return (self.patient_id, self.doctor_id)

    def side_of(self, user_id: uuid.UUID | None) -> Side | None:
        if user_id is not None and user_id == self.doctor_id:
            return Side.DOCTOR
        if user_id is not None and user_id == self.patient_id:
            return Side.PATIENT
        return None


def check_transition(
    connection: Connection, transition: str, *, by: Side | None, now: datetime
) -> ConnectionStatus:
    """The status ``transition`` leads to when taken by side ``by`` at ``now``, or raise.

    A request is answered by the doctor it was sent to, an invitation by the
    patient holding its token: nobody answers their own.
    """
    source, target = TRANSITIONS[transition]
    current = connection.status_at(now)
    if current is not connection.status and source is ConnectionStatus.PENDING:  # lapsed
        if transition == "expire":
            return target
        raise InvalidTransition("this connection request has expired", code="connection_expired")
    if current is not source:
        raise InvalidTransition(f"cannot {transition} a connection that is {current.value}")
    if transition in ANSWERS and by is connection.initiated_by:
        raise InvalidTransition(
            f"the other side answers this {kind_of(connection)}", code="not_the_answering_side"
        )
    return target


def kind_of(connection: Connection) -> str:
    return "invitation" if connection.initiated_by is Side.DOCTOR else "request"


def new_request(patient_id: uuid.UUID, doctor_id: uuid.UUID, now: datetime) -> Connection:
    return Connection(
        id=uuid.uuid4(),
        doctor_id=doctor_id,
        patient_id=patient_id,
        status=ConnectionStatus.PENDING,
        initiated_by=Side.PATIENT,
        expires_at=now + REQUEST_TTL,
        created_at=now,
        updated_at=now,
    )


def new_invitation(
    doctor_id: uuid.UUID, now: datetime, ttl: timedelta = INVITATION_TTL
) -> Connection:
    if not MIN_INVITATION_TTL <= ttl <= MAX_INVITATION_TTL:
        raise ValidationFailed(
            f"an invitation lives between 1 hour and {MAX_INVITATION_TTL.days} days",
            field="expiresInHours",
        )
    return Connection(
        id=uuid.uuid4(),
        doctor_id=doctor_id,
        patient_id=None,
        status=ConnectionStatus.PENDING,
        initiated_by=Side.DOCTOR,
        expires_at=now + ttl,
        created_at=now,
        updated_at=now,
    )


INVITATION_TOKEN_BYTES = 32


def new_invitation_token() -> str:
    """A bearer secret for one invitation; only its digest is stored."""
    return secrets.token_urlsafe(INVITATION_TOKEN_BYTES)


def invitation_digest(token: str) -> bytes:
    """A plain SHA-256 suffices: the token is 256 random bits, so there is nothing to guess."""
    return hashlib.sha256(token.encode()).digest()


class ConnectionListing(msgspec.Struct, frozen=True, kw_only=True):
    """A connection as listed, with the names each side needs to recognise the other."""

    connection: Connection
    doctor_name: str
    patient_name: str | None


class ConnectionPage(msgspec.Struct, frozen=True):
    items: list[ConnectionListing]
    next_cursor: str | None


class ConnectionFilter(msgspec.Struct, frozen=True, kw_only=True):
    party_id: uuid.UUID | None = None  # only connections this user is a side of
    status: ConnectionStatus | None = None  # as of now: a lapsed pending one is "expired"
    patient_id: uuid.UUID | None = None
    doctor_id: uuid.UUID | None = None
    limit: int = 50
    cursor: str | None = None
