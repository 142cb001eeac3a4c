"""Refused mutations are audited in their own transaction; the e-mail command audits itself."""

from __future__ import annotations

import uuid
from contextlib import asynccontextmanager

import pytest

from tests.support.api import ADMIN, api_client, app_services, assert_problem, bearer, job_rows
from tests.support.rows import audit_events

EMAIL_ROUTE = "/api/v1/notifications/email"
EMAIL = {"to": "someone@example.com", "template": "welcome", "data": {"name": "Ada"}}


@pytest.fixture
async def api(settings):
    async with api_client(settings) as client:
        yield client


def refusals(database_url: str) -> list[dict]:
    everything = audit_events(database_url, outcome=None)
    return [event for event in everything if event["resource_type"] == "route"]


async def test_an_accepted_email_is_audited_with_its_job(api, database_url) -> None:
    headers = {**ADMIN, "Idempotency-Key": "mail-1"}
    response = await api.post(EMAIL_ROUTE, json=EMAIL, headers=headers)
    replay = await api.post(EMAIL_ROUTE, json=EMAIL, headers=headers)

    assert response.status_code == replay.status_code == 202
    [event] = audit_events(database_url, "email.send")
    assert event["resource_type"] == "job"
    assert event["resource_id"] == response.json()["jobId"]
    assert event["actor_id"] == "admin-1" and event["outcome"] == "success"
    assert event["changed_fields"] == ["to", "template", "data"]
    assert "someone@example.com" not in str(event)


async def test_a_missing_token_is_recorded_as_denied_without_actor(api, database_url) -> None:
    assert_problem(await api.post(EMAIL_ROUTE, json=EMAIL), 401)

    [event] = refusals(database_url)
    assert event["action"] == "notification.send_email"
    assert event["resource_id"] == EMAIL_ROUTE
    assert (event["outcome"], event["status_code"]) == ("denied", 401)
    assert event["actor_id"] is None
    assert event["request_id"] and event["ip"]


async def test_a_refused_role_is_recorded_with_its_actor(api, database_url) -> None:
    assert_problem(await api.post(EMAIL_ROUTE, json=EMAIL, headers=bearer("pat-9")), 403)

    [event] = refusals(database_url)
    assert (event["outcome"], event["status_code"]) == ("denied", 403)
    assert (event["actor_id"], event["actor_role"]) == ("pat-9", "patient")


async def test_unacceptable_input_is_recorded_as_failed_and_nothing_else_is_written(
    api, database_url
) -> None:
    bad = {**EMAIL, "template": "no_such_template"}
    assert_problem(await api.post(EMAIL_ROUTE, json=bad, headers=ADMIN), 422)

    assert job_rows(database_url) == []
    assert audit_events(database_url, "email.send") == []
    [event] = refusals(database_url)
    assert (event["outcome"], event["status_code"], event["actor_id"]) == (
        "failed",
        422,
        "admin-1",
    )


async def test_a_conflict_is_recorded_as_failed(api, database_url) -> None:
    headers = {**ADMIN, "Idempotency-Key": "mail-2"}
    await api.post(EMAIL_ROUTE, json=EMAIL, headers=headers)
    other = {**EMAIL, "data": {"name": "Grace"}}
    assert_problem(await api.post(EMAIL_ROUTE, json=other, headers=headers), 409)

    [event] = refusals(database_url)
    assert (event["outcome"], event["status_code"]) == ("failed", 409)
    assert len(audit_events(database_url, "email.send")) == 1


async def test_the_route_template_is_recorded_never_the_raw_path(api, database_url) -> None:
    job_id = uuid.uuid4()
    assert_problem(await api.post(f"/api/v1/jobs/{job_id}/cancel", headers=ADMIN), 404)

    [event] = refusals(database_url)
    assert event["resource_id"] == "/api/v1/jobs/{job_id}/cancel"
    assert (event["outcome"], event["status_code"]) == ("failed", 404)
    assert str(job_id) not in str(audit_events(database_url, outcome=None))


async def test_refused_reads_and_malformed_requests_are_not_recorded(api, database_url) -> None:
    assert_problem(await api.get("/api/v1/audit", headers=bearer("pat-9")), 403)
    assert_problem(await api.get("/api/v1/jobs"), 401)
    bad_json = {**ADMIN, "Content-Type": "application/json"}
    assert_problem(await api.post(EMAIL_ROUTE, content=b"{", headers=bad_json), 400)
    assert refusals(database_url) == []


async def test_a_trail_that_cannot_be_written_still_lets_the_refusal_out(api, database_url) -> None:
    @asynccontextmanager
    async def broken_uow():
        raise ConnectionError("database gone")
        yield  # pragma: no cover

    app_services(api).uow = broken_uow
    assert_problem(await api.post(EMAIL_ROUTE, json=EMAIL), 401)
    assert refusals(database_url) == []
