"""Inbound webhooks through the API and the processing job: signatures, rotation, replays,
unknown events, sealed bodies, and what operators see and replay."""

from __future__ import annotations

import uuid

import pytest

from domain.jobs.model import Job
from domain.webhooks.jobs import WEBHOOK_PROCESS
from domain.webhooks.model import WebhookEvent
from domain.wiring import Dispatch
from tests.conftest import make_settings
from tests.support.api import ADMIN, api_client, assert_problem, bearer
from tests.support.handlers import handler_of
from tests.support.platform import running_services
from tests.support.rows import audit_events, rows
from tests.support.webhooks import (
    NEW_SECRET,
    OLD_SECRET,
    RETIRED_SECRET,
    event_body,
    signed,
    stale,
)

HOOK = "/api/v1/webhooks/bakong"
DELIVERIES = "/api/v1/webhooks/deliveries"


@pytest.fixture
def hook_settings(database_url, redis_url, tmp_path):
    # mid-rotation: both secrets are active
    return make_settings(
        database_url,
        redis_url,
        tmp_path / "data",
        webhook_secrets={"bakong": (OLD_SECRET, NEW_SECRET)},
    )


@pytest.fixture
async def api(hook_settings):
    async with api_client(hook_settings) as client:
        yield client


@pytest.fixture
async def services(hook_settings):
    async with running_services(hook_settings) as built:
        yield built


def deliveries(database_url: str) -> list[dict]:
    return rows(database_url, "SELECT * FROM webhook_deliveries ORDER BY received_at")


def processing_jobs(database_url: str) -> list[dict]:
    return rows(
        database_url, "SELECT * FROM jobs WHERE kind = 'webhook.process' ORDER BY created_at"
    )


def as_job(row: dict) -> Job:
    return Job(**{k: v for k, v in row.items() if k in Job.__struct_fields__})


class Seen:
    """A handler a feature would register: records the events it got."""

    def __init__(self) -> None:
        self.events: list[WebhookEvent] = []

    async def __call__(self, event: WebhookEvent) -> str:
        self.events.append(event)
        return "seen"


async def process(services, row: dict, routes: dict) -> dict | None:
    dispatch = Dispatch(routes, services.dependencies())
    return await handler_of(WEBHOOK_PROCESS, services, webhook_routes=dispatch)(as_job(row))


async def test_a_signed_delivery_is_stored_sealed_and_processed_by_its_registered_handler(
    api, services, hook_settings
):
    body = event_body("payment.completed", md5="ab" * 16, amount="12.50")
    response = await api.post(HOOK, content=body, headers=signed(body, NEW_SECRET))
    assert response.status_code == 202, response.text
    assert response.json()["duplicate"] is False
    [stored] = deliveries(hook_settings.database_url)
    assert stored["event_type"] == "payment.completed" and stored["status"] == "received"
    assert b"12.50" not in bytes(stored["body_sealed"])  # sealed at rest
    [job] = processing_jobs(hook_settings.database_url)
    assert job["payload"] == {"deliveryId": str(stored["id"])}  # ids only

    seen = Seen()
    result = await process(services, job, {("bakong", "payment.completed"): seen})
    assert result["status"] == "processed" and result["outcome"] == "seen"
    [event] = seen.events
    assert event.data == {"md5": "ab" * 16, "amount": "12.50"}
    assert event.webhook_id == stored["webhook_id"]
    [after] = deliveries(hook_settings.database_url)
    assert after["status"] == "processed" and after["processed_at"] is not None
    assert [
        e["resource_id"] for e in audit_events(hook_settings.database_url, "webhook.receive")
    ] == [str(stored["id"])]


async def test_a_replayed_webhook_id_is_acknowledged_and_changes_nothing(api, hook_settings):
    body = event_body("payment.completed", md5="cd" * 16)
    headers = signed(body, OLD_SECRET, webhook_id="msg_replayed")
    first = await api.post(HOOK, content=body, headers=headers)
    again = await api.post(HOOK, content=body, headers=headers)
    assert first.status_code == 202 and again.status_code == 200, again.text
    assert again.json() == {"deliveryId": first.json()["deliveryId"], "duplicate": True}
    # the same id re-signed later (the provider's own retry) is still the same delivery
    later = await api.post(
        HOOK, content=body, headers=signed(body, NEW_SECRET, webhook_id="msg_replayed")
    )
    assert later.status_code == 200
    assert len(deliveries(hook_settings.database_url)) == 1
    assert len(processing_jobs(hook_settings.database_url)) == 1


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(lambda body: signed(body, RETIRED_SECRET), id="a secret no longer active"),
        pytest.param(
            lambda body: signed(b"another body", NEW_SECRET), id="a signature of other bytes"
        ),
        pytest.param(lambda body: signed(body, NEW_SECRET, at=stale()), id="a stale timestamp"),
        pytest.param(
            lambda body: {
                k: v for k, v in signed(body, NEW_SECRET).items() if k != "webhook-signature"
            },
            id="no signature",
        ),
        pytest.param(lambda body: {"content-type": "application/json"}, id="no headers at all"),
    ],
)
async def test_a_delivery_that_does_not_verify_is_401_and_stores_nothing_but_its_refusal(
    api, hook_settings, headers
):
    body = event_body("payment.completed", md5="ef" * 16)
    response = await api.post(HOOK, content=body, headers=headers(body))
    problem = assert_problem(response, 401)
    assert "12" not in problem["detail"]
    assert deliveries(hook_settings.database_url) == []
    assert processing_jobs(hook_settings.database_url) == []
    [refusal] = audit_events(hook_settings.database_url, "public.webhook", outcome="denied")
    assert refusal["status_code"] == 401


async def test_a_provider_without_secrets_is_refused(api, hook_settings):
    body = event_body("ocr.completed")
    response = await api.post(
        "/api/v1/webhooks/ocr", content=body, headers=signed(body, NEW_SECRET)
    )
    assert_problem(response, 401)
    assert deliveries(hook_settings.database_url) == []


async def test_either_secret_verifies_during_a_rotation_and_the_new_one_alone_after(
    api, hook_settings, database_url, redis_url, tmp_path
):
    for secret in (OLD_SECRET, NEW_SECRET):
        body = event_body("payment.completed", md5=uuid.uuid4().hex)
        assert (await api.post(HOOK, content=body, headers=signed(body, secret))).status_code == 202
    rotated = make_settings(
        database_url, redis_url, tmp_path / "rotated", webhook_secrets={"bakong": (NEW_SECRET,)}
    )
    async with api_client(rotated) as after_rotation:
        body = event_body("payment.completed", md5=uuid.uuid4().hex)
        old = await after_rotation.post(HOOK, content=body, headers=signed(body, OLD_SECRET))
        assert_problem(old, 401)
        both = await after_rotation.post(
            HOOK, content=body, headers=signed(body, OLD_SECRET, NEW_SECRET)
        )
        assert both.status_code == 202
    assert len(deliveries(hook_settings.database_url)) == 3


async def test_an_unknown_event_type_is_recorded_acknowledged_and_left_unhandled(
    api, services, hook_settings
):
    body = event_body("payment.disputed", md5="12" * 16)
    assert (await api.post(HOOK, content=body, headers=signed(body, NEW_SECRET))).status_code == 202
    not_json = b"\x00 not json"
    assert (
        await api.post(HOOK, content=not_json, headers=signed(not_json, NEW_SECRET))
    ).status_code == 202
    seen = Seen()
    for job in processing_jobs(hook_settings.database_url):
        result = await process(services, job, {("bakong", "payment.completed"): seen})
        assert result["status"] == "unhandled"
    assert seen.events == []
    stored = deliveries(hook_settings.database_url)
    assert {row["event_type"] for row in stored} == {"payment.disputed", None}
    assert {row["outcome"] for row in stored} == {"unknown_event_type"}


async def test_operators_list_deliveries_without_bodies_and_replay_one(
    api, services, hook_settings
):
    body = event_body("payment.completed", md5="34" * 16, amount="99.00")
    delivery_id = (await api.post(HOOK, content=body, headers=signed(body, NEW_SECRET))).json()[
        "deliveryId"
    ]
    listed = await api.get(DELIVERIES, headers=ADMIN)
    assert listed.status_code == 200, listed.text
    [item] = listed.json()["items"]
    assert item["id"] == delivery_id and item["status"] == "received"
    assert "99.00" not in listed.text and "body" not in item

    assert (await api.get(DELIVERIES, headers=bearer("p-1"))).status_code == 403
    missing = await api.post(f"{DELIVERIES}/{uuid.uuid4()}/replay", headers=ADMIN)
    assert_problem(missing, 404)

    seen = Seen()
    routes = {("bakong", "payment.completed"): seen}
    await process(services, processing_jobs(hook_settings.database_url)[0], routes)
    replay = await api.post(f"{DELIVERIES}/{delivery_id}/replay", headers=ADMIN)
    assert replay.status_code == 202, replay.text
    jobs = processing_jobs(hook_settings.database_url)
    assert len(jobs) == 2 and str(jobs[1]["id"]) == replay.json()["jobId"]
    await process(services, jobs[1], routes)
    assert len(seen.events) == 2
    [after] = deliveries(hook_settings.database_url)
    assert after["replays"] == 1 and after["status"] == "processed"
    assert len(audit_events(hook_settings.database_url, "webhook.replay")) == 1
    processed = await api.get(DELIVERIES, params={"status": "processed"}, headers=ADMIN)
    assert [i["id"] for i in processed.json()["items"]] == [delivery_id]
