"""Receiving and processing webhook deliveries through fakes: replays, refusals, dispatch."""

from __future__ import annotations

import msgspec
import pytest

from domain.adapters.webhooks.signatures import StandardWebhooksVerifier
from domain.auditing import AuditContext
from domain.errors import PermanentFailure, Unauthorized
from domain.jobs.model import Job
from domain.webhooks.jobs import DeliveryPayload, process_delivery
from domain.webhooks.model import DeliveryStatus, WebhookEvent
from domain.webhooks.receive import receive_delivery
from domain.wiring import Dispatch
from tests.fakes.audit import FakeAuditLog
from tests.fakes.database import FakeUnitOfWorkFactory
from tests.fakes.jobs import FakeJobRepository, RecordingSender
from tests.fakes.webhooks import FakeDeliveryRepository
from tests.support.webhooks import NEW_SECRET, OLD_SECRET, event_body, signed

PROVIDER = AuditContext(actor_id=None, actor_role=None)


class Hooks:
    def __init__(self) -> None:
        self.uow = FakeUnitOfWorkFactory(
            {"deliveries": FakeDeliveryRepository, "audit": FakeAuditLog, "jobs": FakeJobRepository}
        )
        self.sender = RecordingSender()
        self.verifier = StandardWebhooksVerifier({"bakong": (OLD_SECRET,)})
        self.events: list[WebhookEvent] = []

    async def receive(self, body: bytes, headers: dict[str, str]):
        return await receive_delivery(
            PROVIDER,
            "bakong",
            headers,
            body,
            uow_factory=self.uow,
            sender=self.sender,
            clock=self.uow.clock,
            verifier=self.verifier,
        )

    async def process(self, job: Job, routes: dict):
        payload = msgspec.convert(job.payload, DeliveryPayload)
        return await process_delivery(
            job,
            payload,
            uow_factory=self.uow,
            clock=self.uow.clock,
            webhook_routes=Dispatch(routes, {}),
        )

    def jobs(self) -> list[Job]:
        return list(self.uow.database.table("jobs").values())


async def test_a_delivery_is_stored_once_and_queued_once_however_often_it_comes() -> None:
    hooks = Hooks()
    body = event_body("payment.completed", md5="00" * 16)
    headers = signed(body, OLD_SECRET, webhook_id="msg_1")
    first = await hooks.receive(body, headers)
    second = await hooks.receive(body, headers)
    assert (first.duplicate, second.duplicate) == (False, True)
    assert second.delivery.id == first.delivery.id
    assert len(hooks.jobs()) == 1 and len(hooks.sender.sent) == 1


async def test_a_bad_signature_stores_nothing() -> None:
    hooks = Hooks()
    body = event_body("payment.completed")
    with pytest.raises(Unauthorized):
        await hooks.receive(body, signed(body, NEW_SECRET))
    assert hooks.uow.database.table("deliveries") == {} and hooks.jobs() == []


async def test_processing_looks_the_handler_up_by_provider_and_event_type() -> None:
    hooks = Hooks()
    seen: list[str] = []

    async def completed(event: WebhookEvent) -> str:
        seen.append(event.data["md5"])
        return "completed"

    async def refused(event: WebhookEvent) -> str:
        raise PermanentFailure("not ours", code="not_ours")

    routes = {("bakong", "payment.completed"): completed, ("bakong", "payment.refused"): refused}
    for event_type in ("payment.completed", "payment.unknown", "payment.refused"):
        body = event_body(event_type, md5=event_type)
        await hooks.receive(body, signed(body, OLD_SECRET))
    outcomes = []
    for job in hooks.jobs():
        try:
            outcomes.append((await hooks.process(job, routes))["outcome"])
        except PermanentFailure as exc:
            outcomes.append(exc.code)
    assert outcomes == ["completed", "unknown_event_type", "not_ours"]
    assert seen == ["payment.completed"]
    statuses = [d.status for d in hooks.uow.database.table("deliveries").values()]
    assert statuses == [DeliveryStatus.PROCESSED, DeliveryStatus.UNHANDLED, DeliveryStatus.FAILED]
