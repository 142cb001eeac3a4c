"""The connection state machine: legal moves, who answers, expiry, invitation tokens."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from domain.connections.model import (
    INVITATION_TTL,
    REQUEST_TTL,
    TRANSITIONS,
    Connection,
    ConnectionStatus,
    Side,
    check_transition,
    invitation_digest,
    new_invitation,
    new_invitation_token,
    new_request,
)
from domain.errors import InvalidTransition, ValidationFailed

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
PATIENT, DOCTOR = uuid.uuid4(), uuid.uuid4()
S = ConnectionStatus

LEGAL = {
    ("accept", S.PENDING): S.ACTIVE,
    ("reject", S.PENDING): S.REJECTED,
    ("revoke", S.ACTIVE): S.REVOKED,
    ("expire", S.PENDING): S.EXPIRED,
}


def in_status(status: ConnectionStatus, **changes) -> Connection:
    return msgspec.structs.replace(new_request(PATIENT, DOCTOR, NOW), status=status, **changes)


def test_the_table_is_the_documented_machine() -> None:
    assert {(name, source): target for name, (source, target) in TRANSITIONS.items()} == LEGAL


@pytest.mark.parametrize("transition", sorted(TRANSITIONS))
@pytest.mark.parametrize("status", list(ConnectionStatus))
def test_every_transition_from_every_status(transition, status) -> None:
    connection = in_status(status)
    expected = LEGAL.get((transition, status))
    if expected is None:
        with pytest.raises(InvalidTransition):
            check_transition(connection, transition, by=Side.DOCTOR, now=NOW)
    else:
        assert check_transition(connection, transition, by=Side.DOCTOR, now=NOW) is expected


def test_final_statuses_have_no_way_out() -> None:
    for status in (S.REJECTED, S.REVOKED, S.EXPIRED):
        assert not any(source is status for source, _ in TRANSITIONS.values())


# --- who answers -------------------------------------------------------------------------------


@pytest.mark.parametrize("transition", ["accept", "reject"])
def test_a_request_is_answered_by_the_doctor_only(transition) -> None:
    request = new_request(PATIENT, DOCTOR, NOW)
    assert check_transition(request, transition, by=Side.DOCTOR, now=NOW) in {S.ACTIVE, S.REJECTED}
    with pytest.raises(InvalidTransition) as refused:
        check_transition(request, transition, by=Side.PATIENT, now=NOW)
    assert refused.value.code == "not_the_answering_side"


def test_an_invitation_is_answered_by_a_patient_only() -> None:
    invitation = new_invitation(DOCTOR, NOW)
    assert check_transition(invitation, "accept", by=Side.PATIENT, now=NOW) is S.ACTIVE
    with pytest.raises(InvalidTransition):
        check_transition(invitation, "accept", by=Side.DOCTOR, now=NOW)


@pytest.mark.parametrize("side", list(Side))
def test_either_side_revokes(side) -> None:
    assert check_transition(in_status(S.ACTIVE), "revoke", by=side, now=NOW) is S.REVOKED


def test_sides() -> None:
    request = new_request(PATIENT, DOCTOR, NOW)
    assert request.side_of(PATIENT) is Side.PATIENT
    assert request.side_of(DOCTOR) is Side.DOCTOR
    assert request.side_of(uuid.uuid4()) is None and request.side_of(None) is None
    assert new_invitation(DOCTOR, NOW).side_of(None) is None


# --- expiry ------------------------------------------------------------------------------------


def test_a_pending_connection_expires_at_its_deadline() -> None:
    request = new_request(PATIENT, DOCTOR, NOW)
    assert request.expires_at == NOW + REQUEST_TTL
    assert request.status_at(NOW + REQUEST_TTL - timedelta(seconds=1)) is S.PENDING
    assert request.status_at(NOW + REQUEST_TTL) is S.EXPIRED


def test_expiry_applies_only_to_pending_connections() -> None:
    later = NOW + REQUEST_TTL * 2
    for status in (S.ACTIVE, S.REJECTED, S.REVOKED):
        assert in_status(status).status_at(later) is status


@pytest.mark.parametrize("transition", ["accept", "reject"])
def test_a_lapsed_connection_cannot_be_answered(transition) -> None:
    invitation = new_invitation(DOCTOR, NOW)
    with pytest.raises(InvalidTransition) as refused:
        check_transition(invitation, transition, by=Side.PATIENT, now=NOW + INVITATION_TTL)
    assert refused.value.code == "connection_expired"


def test_a_lapsed_connection_may_be_stored_as_expired() -> None:
    request = new_request(PATIENT, DOCTOR, NOW)
    assert check_transition(request, "expire", by=None, now=NOW + REQUEST_TTL) is S.EXPIRED


# --- invitations -------------------------------------------------------------------------------


def test_an_invitation_waits_for_its_patient_for_seven_days_by_default() -> None:
    invitation = new_invitation(DOCTOR, NOW)
    assert invitation.patient_id is None and invitation.initiated_by is Side.DOCTOR
    assert invitation.status is S.PENDING and invitation.expires_at == NOW + timedelta(days=7)


@pytest.mark.parametrize("ttl", [timedelta(0), timedelta(minutes=59), timedelta(days=31)])
def test_an_invitation_lifetime_is_bounded(ttl) -> None:
    with pytest.raises(ValidationFailed):
        new_invitation(DOCTOR, NOW, ttl)


def test_invitation_tokens_are_random_and_only_their_digest_is_kept() -> None:
    tokens = {new_invitation_token() for _ in range(100)}
    assert len(tokens) == 100
    token = tokens.pop()
    assert len(token) >= 43 and token.isascii()
    digest = invitation_digest(token)
    assert len(digest) == 32 and digest == invitation_digest(token)
    assert token.encode() not in digest
