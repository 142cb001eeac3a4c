"""Connecting doctors and patients: request, invite, answer, revoke, list.

Each command is one transaction that loads what it acts on, applies the
route's policy to it (``Access``), takes the state machine's transition and
records the audit event; a refusal at any step rolls everything back.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import msgspec

from domain.auditing import AuditContext, AuditEntry
from domain.clock import Clock
from domain.connections.model import (
    INVITATION_TTL,
    Connection,
    ConnectionFilter,
    ConnectionPage,
    ConnectionStatus,
    Side,
    check_transition,
    invitation_digest,
    new_invitation,
    new_invitation_token,
    new_request,
)
from domain.connections.ports import UnitOfWork
from domain.errors import Conflict, Forbidden, NotFound
from domain.notifications.inapp import Notice, NoticeKind
from domain.notifications.notices import announce, notify
from domain.notifications.ports import LiveChannel
from domain.policies import Access, party_relations
from domain.transactions import UnitOfWorkFactory


class Invitation(msgspec.Struct, frozen=True):
    """What a doctor hands to a patient; the token is shown this once and stored only hashed."""

    connection: Connection
    token: str
    expires_at: datetime


def _entry(action: str, connection_id: uuid.UUID, *fields: str) -> AuditEntry:
    return AuditEntry(
        action=action,
        resource_type="connection",
        resource_id=str(connection_id),
        changed_fields=fields,
    )


async def _expire_lapsed(
    uow: UnitOfWork,
    audit: AuditContext,
    doctor_id: uuid.UUID,
    patient_id: uuid.UUID,
    now: datetime,
) -> None:
    """Store the pair's lapsed request as expired, so the pair may connect anew (audited)."""
    for expired_id in await uow.connections.expire_lapsed(doctor_id, patient_id, now):
        await uow.audit.record(audit, _entry("connection.expire", expired_id, "status"))


async def _caller_as_patient(uow: UnitOfWork, access: Access) -> uuid.UUID:
    access.authorize(())  # the role rule; these commands have no target yet
    patient_id = access.user_uuid
    if patient_id is None or not await uow.patients.exists(patient_id):
        raise Forbidden("this action needs an active patient account")
    return patient_id


async def _caller_as_doctor(uow: UnitOfWork, access: Access) -> uuid.UUID:
    access.authorize(())
    doctor_id = access.user_uuid
    if doctor_id is None or not await uow.doctors.is_listed(doctor_id):
        raise Forbidden("this action needs an active doctor account")
    return doctor_id


async def request_connection(
    access: Access,
    audit: AuditContext,
    doctor_id: uuid.UUID,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
    live: LiveChannel,
) -> Connection:
    """A patient asks a doctor to connect; Conflict if the pair is already pending or active.
    The doctor is told in the app."""
    async with uow_factory() as uow:
        patient_id = await _caller_as_patient(uow, access)
        if not await uow.doctors.is_listed(doctor_id):
            raise NotFound("doctor not found")
        now = clock.now()
        await _expire_lapsed(uow, audit, doctor_id, patient_id, now)
        connection = new_request(patient_id, doctor_id, now)
        await uow.connections.add(connection)
        await uow.audit.record(
            audit, _entry("connection.request", connection.id, "status", "patient_id", "doctor_id")
        )
        notice = await notify(
            uow, doctor_id, NoticeKind.CONNECTION_REQUEST, {"connectionId": str(connection.id)}
        )
    await announce(live, [notice])
    return connection


async def invite_patient(
    access: Access,
    audit: AuditContext,
    ttl: timedelta = INVITATION_TTL,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
) -> Invitation:
    async with uow_factory() as uow:
        doctor_id = await _caller_as_doctor(uow, access)
        now = clock.now()
        connection = new_invitation(doctor_id, now, ttl)
        token = new_invitation_token()
        await uow.connections.add(connection, invitation_hash=invitation_digest(token))
        await uow.audit.record(
            audit, _entry("connection.invite", connection.id, "status", "doctor_id", "expires_at")
        )
    return Invitation(connection=connection, token=token, expires_at=now + ttl)


async def accept_invitation(
    access: Access,
    audit: AuditContext,
    token: str,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
    live: LiveChannel,
) -> Connection:
    """The patient holding an invitation's token becomes its patient, and the pair is active;
    the inviting doctor is told in the app."""
    async with uow_factory() as uow:
        patient_id = await _caller_as_patient(uow, access)
        connection = await uow.connections.by_invitation(invitation_digest(token))
        if connection is None:
            raise NotFound("invitation not found")
        now = clock.now()
        target = check_transition(connection, "accept", by=Side.PATIENT, now=now)
        await _expire_lapsed(uow, audit, connection.doctor_id, patient_id, now)
        accepted = await _moved(uow, connection, target, now, patient_id=patient_id)
        await uow.audit.record(
            audit, _entry("connection.accept_invitation", accepted.id, "status", "patient_id")
        )
        notice = await _accepted_notice(uow, accepted.doctor_id, accepted)
    await announce(live, [notice])
    return accepted


async def _moved(
    uow: UnitOfWork,
    connection: Connection,
    target: ConnectionStatus,
    now: datetime,
    patient_id: uuid.UUID | None = None,
) -> Connection:
    moved = await uow.connections.move(
        connection.id, connection.status, target, now, patient_id=patient_id
    )
    if moved is None:  # the row is locked or was just read: only a bug gets here
        raise Conflict("the connection changed meanwhile; try again")
    return moved


def _as_party(access: Access, connection: Connection | None) -> Connection:
    """The connection if the caller is a side of it; otherwise the same 404 as a missing one."""
    access.authorize(party_relations(access.principal, connection.parties if connection else None))
    if connection is None:  # unreachable: nobody is a party to a missing connection
        raise NotFound("connection not found")
    return connection


async def answer_connection(
    access: Access,
    audit: AuditContext,
    connection_id: uuid.UUID,
    transition: str,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
    live: LiveChannel,
) -> Connection:
    """Accept, reject or revoke, as a party to the connection (others get a 404). An accepted
    request or invitation is news for the side that asked: it is told in the app."""
    told = []
    async with uow_factory() as uow:
        connection = _as_party(access, await uow.connections.get(connection_id, lock=True))
        now = clock.now()
        by = connection.side_of(access.user_uuid)
        target = check_transition(connection, transition, by=by, now=now)
        moved = await _moved(uow, connection, target, now)
        await uow.audit.record(audit, _entry(f"connection.{transition}", moved.id, "status"))
        asker = moved.doctor_id if moved.initiated_by is Side.DOCTOR else moved.patient_id
        if moved.status is ConnectionStatus.ACTIVE and asker is not None:
            told.append(await _accepted_notice(uow, asker, moved))
    await announce(live, told)
    return moved


async def _accepted_notice(uow: UnitOfWork, user_id: uuid.UUID, connection: Connection) -> Notice:
    return await notify(
        uow, user_id, NoticeKind.CONNECTION_ACCEPTED, {"connectionId": str(connection.id)}
    )


async def list_connections(
    access: Access,
    audit: AuditContext,
    query: ConnectionFilter,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
) -> ConnectionPage:
    """The caller's own connections (an admin's: everyone's), newest first.

    The listing names the patients, so reading it is audited like any read of patient data.
    """
    if not access.sees_all():
        caller = access.user_uuid
        if caller is None:
            return ConnectionPage(items=[], next_cursor=None)
        query = msgspec.structs.replace(query, party_id=caller)
    now = clock.now()
    async with uow_factory(autocommit=True) as uow:
        page = await uow.connections.page(query, now)
        listed = AuditEntry(action="connection.list", resource_type="connection")
        await uow.audit.record(audit, listed)
    as_of_now = [
        msgspec.structs.replace(
            item,
            connection=msgspec.structs.replace(
                item.connection, status=item.connection.status_at(now)
            ),
        )
        for item in page.items
    ]
    return ConnectionPage(items=as_of_now, next_cursor=page.next_cursor)
