"""Doctor-patient connections: a patient's request, a doctor's invitation, answers, revocation.

Who may call what is the ``connection.*`` policies' business; a connection
the caller is not a party to answers 404, like a missing one. Invitation
tokens travel in request and response bodies only, never in a URL.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated

import msgspec
from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from api.audit_context import AuditContextDep
from api.openapi import OptionalBodyOperation
from api.params import Cursor
from api.policy_guard import AccessDep
from api.problems import api_responses
from api.state import UseCases
from domain.connections import service as connection_service
from domain.connections.model import (
    INVITATION_TTL,
    MAX_INVITATION_TTL,
    Connection,
    ConnectionFilter,
    ConnectionListing,
    ConnectionStatus,
    Side,
)

TOKEN_LENGTH = msgspec.Meta(min_length=16, max_length=128)


class ConnectionRead(msgspec.Struct, frozen=True, rename="camel"):
    id: uuid.UUID
    patient_id: uuid.UUID | None
    doctor_id: uuid.UUID
    status: ConnectionStatus
    initiated_by: Side
    expires_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, connection: Connection) -> ConnectionRead:
        return cls(
            id=connection.id,
            patient_id=connection.patient_id,
            doctor_id=connection.doctor_id,
            status=connection.status,
            initiated_by=connection.initiated_by,
            expires_at=connection.expires_at,
            created_at=connection.created_at,
            updated_at=connection.updated_at,
        )


class ConnectionListItem(ConnectionRead, frozen=True, rename="camel"):
    doctor_name: str
    patient_name: str | None

    @classmethod
    def listed(cls, item: ConnectionListing) -> ConnectionListItem:
        read = ConnectionRead.of(item.connection)
        return cls(
            **msgspec.structs.asdict(read),
            doctor_name=item.doctor_name,
            patient_name=item.patient_name,
        )


class ConnectionList(msgspec.Struct, frozen=True, rename="camel"):
    items: list[ConnectionListItem]
    next_cursor: str | None


class ConnectionRequest(msgspec.Struct, frozen=True, rename="camel", forbid_unknown_fields=True):
    doctor_id: uuid.UUID


class InvitationRequest(msgspec.Struct, frozen=True, rename="camel", forbid_unknown_fields=True):
    expires_in_hours: Annotated[
        int, msgspec.Meta(ge=1, le=MAX_INVITATION_TTL // timedelta(hours=1))
    ] = INVITATION_TTL // timedelta(hours=1)


class InvitationCreated(msgspec.Struct, frozen=True, rename="camel"):
    """The token is shown this once; hand it to the patient. Only its hash is stored."""

    connection_id: uuid.UUID
    token: str
    expires_at: datetime


class InvitationAcceptance(msgspec.Struct, frozen=True, rename="camel", forbid_unknown_fields=True):
    token: Annotated[str, TOKEN_LENGTH]


ConnectionId = FromPath[uuid.UUID]


class ConnectionsController(Controller):
    path = "/connections"
    tags = ["connections"]

    @post(
        "/",
        operation_id="requestConnection",
        summary="A patient asks a doctor to connect; pending until the doctor answers",
        status_code=201,
        responses=api_responses(400, 403, 404, 409, 413, 422),
        opt={"policy": "connection.request"},
    )
    async def request_connection(
        self,
        data: JSONBody[ConnectionRequest],
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> ConnectionRead:
        connection = await cases.run(
            connection_service.request_connection, access, audit_context, data.doctor_id
        )
        return ConnectionRead.of(connection)

    @post(
        "/invitations",
        operation_id="invitePatient",
        summary="A doctor creates a one-time invitation token for a patient (default: 7 days)",
        status_code=201,
        operation_class=OptionalBodyOperation,
        responses=api_responses(400, 403, 413, 422),
        opt={"policy": "connection.invite"},
    )
    async def invite_patient(
        self,
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
        data: JSONBody[InvitationRequest | None] = None,
    ) -> InvitationCreated:
        hours = (data or InvitationRequest()).expires_in_hours
        invitation = await cases.run(
            connection_service.invite_patient, access, audit_context, timedelta(hours=hours)
        )
        return InvitationCreated(
            connection_id=invitation.connection.id,
            token=invitation.token,
            expires_at=invitation.expires_at,
        )

    @post(
        "/invitations/accept",
        operation_id="acceptInvitation",
        summary="A patient accepts a doctor's invitation with its token; the pair is connected",
        status_code=200,
        responses=api_responses(400, 403, 404, 409, 413),
        opt={"policy": "connection.accept_invitation"},
    )
    async def accept_invitation(
        self,
        data: JSONBody[InvitationAcceptance],
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> ConnectionRead:
        connection = await cases.run(
            connection_service.accept_invitation, access, audit_context, data.token
        )
        return ConnectionRead.of(connection)

    async def _answer(
        self,
        connection_id: uuid.UUID,
        transition: str,
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> ConnectionRead:
        connection = await cases.run(
            connection_service.answer_connection, access, audit_context, connection_id, transition
        )
        return ConnectionRead.of(connection)

    @post(
        "/{connection_id:uuid}/accept",
        operation_id="acceptConnection",
        summary="The doctor accepts a patient's pending request",
        status_code=200,
        responses=api_responses(400, 403, 404, 409),
        opt={"policy": "connection.accept"},
    )
    async def accept_connection(
        self,
        connection_id: ConnectionId,
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> ConnectionRead:
        return await self._answer(connection_id, "accept", access, audit_context, cases)

    @post(
        "/{connection_id:uuid}/reject",
        operation_id="rejectConnection",
        summary="The doctor rejects a patient's pending request",
        status_code=200,
        responses=api_responses(400, 403, 404, 409),
        opt={"policy": "connection.reject"},
    )
    async def reject_connection(
        self,
        connection_id: ConnectionId,
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> ConnectionRead:
        return await self._answer(connection_id, "reject", access, audit_context, cases)

    @post(
        "/{connection_id:uuid}/revoke",
        operation_id="revokeConnection",
        summary="Either party ends an active connection",
        status_code=200,
        responses=api_responses(400, 403, 404, 409),
        opt={"policy": "connection.revoke"},
    )
    async def revoke_connection(
        self,
        connection_id: ConnectionId,
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> ConnectionRead:
        return await self._answer(connection_id, "revoke", access, audit_context, cases)

    @get(
        "/",
        operation_id="listConnections",
        summary="Your connections (an admin's: everyone's, filterable by party), newest first",
        responses=api_responses(400, 422),
        opt={"policy": "connection.list"},
    )
    async def list_connections(
        self,
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
        status: Annotated[ConnectionStatus | None, QueryParameter()] = None,
        patient_id: Annotated[uuid.UUID | None, QueryParameter(name="patientId")] = None,
        doctor_id: Annotated[uuid.UUID | None, QueryParameter(name="doctorId")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 50,
        cursor: Cursor = None,
    ) -> ConnectionList:
        query = ConnectionFilter(
            status=status, patient_id=patient_id, doctor_id=doctor_id, limit=limit, cursor=cursor
        )
        page = await cases.run(connection_service.list_connections, access, audit_context, query)
        return ConnectionList(
            items=[ConnectionListItem.listed(item) for item in page.items],
            next_cursor=page.next_cursor,
        )
