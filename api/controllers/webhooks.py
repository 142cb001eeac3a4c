"""Inbound webhooks, one route for every provider, and what operators do with deliveries.

``POST /webhooks/{provider}`` takes no token: the Standard Webhooks signature
(``webhook-id``, ``webhook-timestamp``, ``webhook-signature``) is the check,
against the provider's secrets in ``WEBHOOK_SECRETS``. It answers 202 as soon
as the delivery is stored (200 for a webhook id already delivered); the work
happens in a ``webhook.process`` job.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, QueryParameter

from api.audit_context import AuditContextDep
from api.commands import JobAccepted, accepted
from api.controllers.auth.common import NO_TOKEN, route_opt
from api.params import Cursor
from api.policy_guard import AccessDep
from api.problems import api_responses
from api.state import UseCases
from domain.webhooks import operate, receive
from domain.webhooks.model import Delivery, DeliveryFilter, DeliveryStatus

SIGNATURE_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
PROVIDER = FromPath[Annotated[str, msgspec.Meta(pattern="^[a-z][a-z0-9_-]{0,31}$")]]


class DeliveryAck(msgspec.Struct, frozen=True, rename="camel"):
    delivery_id: uuid.UUID
    duplicate: bool


class DeliveryRead(msgspec.Struct, frozen=True, rename="camel"):
    """A delivery as operators see it: never its body."""

    id: uuid.UUID
    provider: str
    webhook_id: str
    event_type: str | None
    status: DeliveryStatus
    outcome: str | None
    received_at: datetime
    processed_at: datetime | None
    replays: int

    @classmethod
    def of(cls, delivery: Delivery) -> DeliveryRead:
        return cls(**msgspec.structs.asdict(delivery))


class DeliveryList(msgspec.Struct, frozen=True, rename="camel"):
    items: list[DeliveryRead]
    next_cursor: str | None


class WebhooksController(Controller):
    path = "/webhooks"
    tags = ["webhooks"]

    @post(
        "/{provider:str}",
        operation_id="receiveWebhook",
        summary="A provider's signed delivery (Standard Webhooks); 202 once stored",
        status_code=202,
        responses=api_responses(400, 401, 413, token=False),
        opt=route_opt("public.webhook"),
        security=NO_TOKEN,
    )
    async def receive(
        self,
        provider: PROVIDER,
        request: Request[Any, Any, Any],
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> Response[DeliveryAck]:
        body = await request.body()
        signed = request.headers
        headers = {name: signed[name] for name in SIGNATURE_HEADERS if name in signed}
        received = await cases.run(receive.receive_delivery, audit_context, provider, headers, body)
        return Response(
            DeliveryAck(delivery_id=received.delivery.id, duplicate=received.duplicate),
            status_code=200 if received.duplicate else 202,
        )

    @get(
        "/deliveries",
        operation_id="listWebhookDeliveries",
        summary="Stored deliveries, newest first, without their bodies (admins)",
        responses=api_responses(400, 403, 422),
        opt={"policy": "webhook.list"},
    )
    async def list_deliveries(
        self,
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
        provider: Annotated[str | None, QueryParameter(max_length=32)] = None,
        status: Annotated[DeliveryStatus | None, QueryParameter()] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 50,
        cursor: Cursor = None,
    ) -> DeliveryList:
        query = DeliveryFilter(provider=provider, status=status, limit=limit, cursor=cursor)
        page = await cases.run(operate.list_deliveries, access, audit_context, query)
        return DeliveryList(
            items=[DeliveryRead.of(item) for item in page.items], next_cursor=page.next_cursor
        )

    @post(
        "/deliveries/{delivery_id:uuid}/replay",
        operation_id="replayWebhookDelivery",
        summary="Process a stored delivery again (admins); 202 with the job's address",
        status_code=202,
        responses=api_responses(400, 403, 404),
        opt={"policy": "webhook.replay"},
    )
    async def replay(
        self,
        delivery_id: FromPath[uuid.UUID],
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> Response[JobAccepted]:
        submission = await cases.run(operate.replay_delivery, access, audit_context, delivery_id)
        return accepted(submission)
