"""Refused writes, and a known caller's refused reads of patient data, are audited in their own
transaction; the e-mail command audits itself."""

from __future__ import annotations

import uuid
from contextlib import asynccontextmanager
from typing import NamedTuple

import msgspec
import pytest

from tests.support.api import (
    ADMIN,
    api_client,
    app_services,
    assert_problem,
    bearer,
    job_rows,
    noop_job,
)
from tests.support.pdfs import valid_pdf
from tests.support.records import add_document, add_record
from tests.support.rows import audit_events

EMAIL_ROUTE = "/api/v1/notifications/email"
EMAIL = {"to": "someone@example.com", "template": "welcome", "data": {"name": "Ada"}}


@pytest.fixture
async def api(settings):
    async with api_client(settings) as client:
        yield client


@pytest.fixture
def platform_settings(settings):
    """What ``platform`` and ``cast`` (tests/integration/conftest.py) run on."""
    return settings


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


async def test_refused_reads_of_other_routes_and_malformed_requests_are_not_recorded(
    api, platform, database_url
) -> None:
    job = await noop_job(platform, "pat-1")
    assert_problem(await api.get("/api/v1/audit", headers=bearer("pat-9")), 403)
    assert_problem(await api.get("/api/v1/jobs"), 401)
    assert_problem(await api.get(f"/api/v1/jobs/{job.id}", headers=bearer("pat-9")), 404)
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


# --- refused reads of patient data --------------------------------------------------------------

RECORD_ROUTE = "/api/v1/records/{record_id}"


class PatientRead(NamedTuple):
    """A read of one patient file: its id, the raw path, the route template, the policy."""

    file_id: str
    path: str
    template: str
    policy: str


async def alices_record(platform, cast) -> PatientRead:
    record_id = await add_record(platform, cast.alice.id)
    return PatientRead(record_id, f"/api/v1/records/{record_id}", RECORD_ROUTE, "record.read")


async def alices_record_content(platform, cast) -> PatientRead:
    record_id = await add_record(platform, cast.alice.id)
    return PatientRead(
        record_id,
        f"/api/v1/records/{record_id}/content",
        "/api/v1/records/{record_id}/content",
        "record.content",
    )


async def alices_document(platform, cast) -> PatientRead:
    document_id = await add_document(platform, cast.alice.id, valid_pdf())
    return PatientRead(
        document_id,
        f"/api/v1/documents/{document_id}/content",
        "/api/v1/documents/{document_id}/content",
        "document.read",
    )


async def a_made_up_record(platform, cast) -> PatientRead:
    record_id = str(uuid.uuid4())
    return PatientRead(record_id, f"/api/v1/records/{record_id}", RECORD_ROUTE, "record.read")


def assert_refusal_of(
    database_url: str, read: PatientRead, caller, outcome: str, status: int
) -> None:
    [event] = refusals(database_url)
    assert (event["action"], event["resource_id"]) == (read.policy, read.template)
    assert (event["outcome"], event["status_code"]) == (outcome, status)
    assert (event["actor_id"], event["actor_role"]) == (str(caller.id), caller.role.value)
    assert event["request_id"] and event["ip"]
    assert read.file_id not in str(audit_events(database_url, outcome=None))


@pytest.mark.parametrize("target", [alices_record, alices_document, a_made_up_record])
async def test_a_doctor_reading_a_stranger_s_file_is_recorded_as_failed(
    api, platform, cast, database_url, target
) -> None:
    read = await target(platform, cast)

    assert_problem(await api.get(read.path, headers=cast.dararith.headers), 404)

    assert_refusal_of(database_url, read, cast.dararith, "failed", 404)


@pytest.mark.parametrize("target", [alices_record_content, alices_document])
async def test_an_admin_refused_content_is_recorded_as_denied(
    api, platform, cast, database_url, target
) -> None:
    read = await target(platform, cast)

    assert_problem(await api.get(read.path, headers=cast.eang.headers), 403)

    assert_refusal_of(database_url, read, cast.eang, "denied", 403)


async def test_a_read_without_a_valid_token_is_not_recorded(
    api, platform, cast, database_url
) -> None:
    record_id = await add_record(platform, cast.alice.id)
    path = f"/api/v1/records/{record_id}"
    expired = bearer(str(cast.chantha.id), "doctor", ttl=-60)

    assert_problem(await api.get(path), 401)
    assert_problem(await api.get(path, headers=expired), 401)
    assert_problem(await api.get(path, headers={"Authorization": "Bearer not-a-token"}), 401)
    assert refusals(database_url) == []


async def test_an_allowed_read_leaves_its_access_and_no_refusal(
    api, platform, cast, database_url
) -> None:
    record_id = await add_record(platform, cast.alice.id)
    path = f"/api/v1/records/{record_id}"

    assert (await api.get(path, headers=cast.chantha.headers)).status_code == 200
    assert (await api.get(path, headers=cast.eang.headers)).status_code == 200

    assert refusals(database_url) == []
    reads = audit_events(database_url, "record.read")
    assert [event["actor_id"] for event in reads] == [str(cast.chantha.id), str(cast.eang.id)]


async def test_of_a_burst_of_refused_reads_only_the_first_429_is_recorded(
    settings, platform, cast, database_url
) -> None:
    tight = msgspec.structs.replace(settings, rate_limit_user_per_minute=2)
    path = f"/api/v1/records/{uuid.uuid4()}"
    async with api_client(tight) as api:
        answers = [
            (await api.get(path, headers=cast.dararith.headers)).status_code for _ in range(4)
        ]
        anonymous = [(await api.get(path)).status_code for _ in range(3)]

    assert answers == [404, 404, 429, 429]
    assert anonymous == [401, 401, 429]
    recorded = [(event["status_code"], event["outcome"]) for event in refusals(database_url)]
    assert recorded == [(404, "failed"), (404, "failed"), (429, "denied")]
    assert {event["actor_id"] for event in refusals(database_url)} == {str(cast.dararith.id)}
