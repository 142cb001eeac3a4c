"""The jobs resource: visibility, keyset pages, cancel, an admin's retry, and the event stream."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest

from domain.adapters.audit.log import PgAuditLog
from domain.identity import Role
from domain.jobs.model import JobError, JobStatus
from domain.jobs.system import NOOP
from tests.support.api import (
    ADMIN,
    api_client,
    app_services,
    assert_problem,
    bearer,
    job_rows,
    noop_job,
    on_app_loop,
)
from tests.support.rows import audit_events

ALICE = bearer("alice", Role.PATIENT)
BOB = bearer("bob", Role.DOCTOR)


@pytest.fixture
async def api(settings):
    async with api_client(settings) as client:
        yield client


async def failed_job(services, owner_id: str):
    job = await noop_job(services, owner_id)
    running = await services.store.claim(job.id)
    assert running is not None
    failed = await services.store.fail(job.id, running.attempts, JobError("boom", "it broke"))
    assert failed is not None and failed.status is JobStatus.FAILED
    return failed


# --- reading one job ---------------------------------------------------------------------


async def test_the_owner_reads_their_job(api, services) -> None:
    job = await noop_job(services, "alice")

    response = await api.get(f"/api/v1/jobs/{job.id}", headers=ALICE)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "id", "kind", "status", "attempts", "maxAttempts", "result", "error",
        "createdAt", "startedAt", "finishedAt", "runAfter",
    }  # fmt: skip
    assert body["id"] == str(job.id) and body["kind"] == NOOP.name
    assert body["status"] == "queued" and body["attempts"] == 0
    assert body["maxAttempts"] == NOOP.max_attempts
    assert body["result"] is None and body["error"] is None and body["startedAt"] is None


async def test_a_failed_job_shows_its_error(api, services) -> None:
    job = await failed_job(services, "alice")
    body = (await api.get(f"/api/v1/jobs/{job.id}", headers=ALICE)).json()
    assert body["status"] == "failed"
    assert body["error"] == {"code": "boom", "message": "it broke"}
    assert body["finishedAt"] is not None


async def test_someone_elses_job_looks_exactly_like_a_missing_one(api, services) -> None:
    job = await noop_job(services, "alice")

    theirs = await api.get(f"/api/v1/jobs/{job.id}", headers=BOB)
    missing = await api.get(f"/api/v1/jobs/{uuid.uuid4()}", headers=BOB)

    assert assert_problem(theirs, 404) == assert_problem(missing, 404)
    events = await api.get(f"/api/v1/jobs/{job.id}/events", headers=BOB)
    assert assert_problem(events, 404) == assert_problem(missing, 404)


async def test_an_admin_reads_anyones_job(api, services) -> None:
    job = await noop_job(services, "alice")
    response = await api.get(f"/api/v1/jobs/{job.id}", headers=ADMIN)
    assert response.status_code == 200 and response.json()["id"] == str(job.id)


async def test_a_job_id_that_is_not_a_uuid_is_a_4xx(api) -> None:
    response = await api.get("/api/v1/jobs/not-a-uuid", headers=ALICE)
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"].startswith("application/problem+json")


# --- listing -------------------------------------------------------------------------------


async def walk(api, headers, limit: int, **filters) -> tuple[list[str], int]:
    seen: list[str] = []
    pages = 0
    params: dict[str, object] = {"limit": limit, **filters}
    while True:
        response = await api.get("/api/v1/jobs", params=params, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        pages += 1
        assert len(body["items"]) <= limit
        seen += [item["id"] for item in body["items"]]
        if body["nextCursor"] is None:
            return seen, pages
        params["cursor"] = body["nextCursor"]


async def test_pages_walk_every_own_job_once_newest_first(api, services) -> None:
    alices = [await noop_job(services, "alice") for _ in range(7)]
    bobs = [await noop_job(services, "bob") for _ in range(3)]

    seen, pages = await walk(api, ALICE, limit=3)

    assert len(seen) == len(set(seen)) == 7
    assert set(seen) == {str(job.id) for job in alices}
    assert pages == 3
    newest_first = sorted(alices, key=lambda job: (job.created_at, job.id), reverse=True)
    assert seen == [str(job.id) for job in newest_first]

    seen_by_bob, _ = await walk(api, BOB, limit=100)
    assert set(seen_by_bob) == {str(job.id) for job in bobs}


async def test_an_admin_pages_through_everyones_jobs(api, services) -> None:
    every = [await noop_job(services, owner) for owner in ["alice", "bob", "carol"] * 3]
    seen, pages = await walk(api, ADMIN, limit=4)
    assert len(seen) == len(set(seen)) == len(every)
    assert set(seen) == {str(job.id) for job in every}
    assert pages == 3


async def test_a_page_of_exactly_the_limit_has_no_next_cursor(api, services) -> None:
    for _ in range(3):
        await noop_job(services, "alice")
    body = (await api.get("/api/v1/jobs", params={"limit": 3}, headers=ALICE)).json()
    assert len(body["items"]) == 3 and body["nextCursor"] is None


async def test_the_default_page_size_is_20(api, services) -> None:
    for _ in range(21):
        await noop_job(services, "alice")
    body = (await api.get("/api/v1/jobs", headers=ALICE)).json()
    assert len(body["items"]) == 20 and body["nextCursor"] is not None


async def test_jobs_filter_by_status_and_kind(api, services) -> None:
    queued = await noop_job(services, "alice")
    failed = await failed_job(services, "alice")

    by_status = await walk(api, ALICE, limit=10, status="failed")
    assert by_status[0] == [str(failed.id)]
    by_kind = await walk(api, ALICE, limit=10, kind=NOOP.name)
    assert set(by_kind[0]) == {str(queued.id), str(failed.id)}
    assert (await walk(api, ALICE, limit=10, kind="email.send"))[0] == []


@pytest.mark.parametrize(
    "params",
    [
        {"status": "bogus"},
        {"limit": 0},
        {"limit": 101},
        {"limit": "ten"},
        {"kind": ""},
        {"cursor": "x" * 600},
    ],
    ids=["status", "limit-0", "limit-101", "limit-text", "empty-kind", "long-cursor"],
)
async def test_bad_query_parameters_are_a_400(api, params) -> None:
    problem = assert_problem(await api.get("/api/v1/jobs", params=params, headers=ALICE), 400)
    assert problem["errors"]
    assert "bogus" not in problem["detail"]


@pytest.mark.parametrize("cursor", ["not-base64!", "bm90IGpzb24", "WzEsMl0"])
async def test_a_forged_cursor_is_a_422(api, cursor) -> None:
    response = await api.get("/api/v1/jobs", params={"cursor": cursor}, headers=ALICE)
    problem = assert_problem(response, 422)
    assert problem["errors"] == [{"field": "cursor", "message": "cursor is not valid"}]


# --- cancel --------------------------------------------------------------------------------


async def test_cancel_a_queued_job_then_cancel_again_is_a_conflict(api, services) -> None:
    job = await noop_job(services, "alice")

    first = await api.post(f"/api/v1/jobs/{job.id}/cancel", headers=ALICE)
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "cancelled" and first.json()["finishedAt"] is not None

    again = await api.post(f"/api/v1/jobs/{job.id}/cancel", headers=ALICE)
    problem = assert_problem(again, 409)
    assert problem["code"] == "invalid_transition"


async def test_a_running_job_cannot_be_cancelled(api, services) -> None:
    job = await noop_job(services, "alice")
    await services.store.claim(job.id)
    assert_problem(await api.post(f"/api/v1/jobs/{job.id}/cancel", headers=ALICE), 409)


async def test_nobody_cancels_someone_elses_job_but_an_admin(api, services) -> None:
    job = await noop_job(services, "alice")
    assert_problem(await api.post(f"/api/v1/jobs/{job.id}/cancel", headers=BOB), 404)
    assert (await services.store.get(job.id)).status is JobStatus.QUEUED
    response = await api.post(f"/api/v1/jobs/{job.id}/cancel", headers=ADMIN)
    assert response.status_code == 200


# --- retry ---------------------------------------------------------------------------------


async def test_an_admin_retries_a_failed_job(api, services, settings) -> None:
    job = await failed_job(services, "alice")
    queued_before = services.broker.client.llen("dramatiq:default")

    response = await api.post(f"/api/v1/jobs/{job.id}/retry", headers=ADMIN)

    assert response.status_code == 202, response.text
    assert response.json() == {"jobId": str(job.id), "status": "queued"}
    assert response.headers["location"] == f"/api/v1/jobs/{job.id}"
    retried = await services.store.get(job.id)
    assert retried.status is JobStatus.QUEUED and retried.error is None
    assert retried.max_attempts == job.attempts + NOOP.max_attempts
    assert services.broker.client.llen("dramatiq:default") == queued_before + 1
    assert len(job_rows(settings.database_url)) == 1


async def test_only_a_failed_job_can_be_retried(api, services) -> None:
    job = await noop_job(services, "alice")
    problem = assert_problem(await api.post(f"/api/v1/jobs/{job.id}/retry", headers=ADMIN), 409)
    assert problem["code"] == "invalid_transition"


async def test_only_an_admin_retries(api, services) -> None:
    job = await failed_job(services, "alice")
    assert_problem(await api.post(f"/api/v1/jobs/{job.id}/retry", headers=ALICE), 403)
    assert (await services.store.get(job.id)).status is JobStatus.FAILED


async def test_retrying_a_missing_job_is_a_404(api) -> None:
    assert_problem(await api.post(f"/api/v1/jobs/{uuid.uuid4()}/retry", headers=ADMIN), 404)


# --- server-sent events --------------------------------------------------------------------


def parse_sse(text: str) -> list[dict[str, str]]:
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.split("\n"):
            if line and not line.startswith(":"):
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
        if fields:
            events.append(fields)
    return events


async def test_the_stream_replays_history_then_follows_to_a_final_status(api, services) -> None:
    job = await noop_job(services, "alice")
    store = app_services(api).store

    async def run_the_job_meanwhile() -> None:
        await asyncio.sleep(0.6)
        running = await store.claim(job.id)
        await asyncio.sleep(0.4)
        await store.succeed(job.id, running.attempts, {"ok": True})

    mover = on_app_loop(api, run_the_job_meanwhile)
    response = await api.get(f"/api/v1/jobs/{job.id}/events", headers=ALICE)
    mover.result(timeout=5)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(response.text)
    assert [event["event"] for event in events] == ["status"] * 3
    data = [json.loads(event["data"]) for event in events]
    assert [item["status"] for item in data] == ["queued", "running", "succeeded"]
    assert [item["attempt"] for item in data] == [0, 1, 1]
    assert all(item["error"] is None and item["at"] for item in data)
    ids = [int(event["id"]) for event in events]
    assert ids == sorted(ids) and len(set(ids)) == 3


async def test_a_resubmitted_job_streams_past_its_old_failure(api, services) -> None:
    job = await failed_job(services, "alice")
    assert (await api.post(f"/api/v1/jobs/{job.id}/retry", headers=ADMIN)).status_code == 202
    store = app_services(api).store

    async def run_the_job_meanwhile() -> None:
        await asyncio.sleep(0.6)
        running = await store.claim(job.id)
        await store.succeed(job.id, running.attempts, {"ok": True})

    mover = on_app_loop(api, run_the_job_meanwhile)
    response = await api.get(f"/api/v1/jobs/{job.id}/events", headers=ALICE)
    mover.result(timeout=5)

    statuses = [json.loads(event["data"])["status"] for event in parse_sse(response.text)]
    assert statuses == ["queued", "running", "failed", "queued", "running", "succeeded"]


async def test_last_event_id_resumes_after_that_event(api, services) -> None:
    job = await failed_job(services, "alice")
    history = await services.store.events(job.id)
    assert len(history) == 3

    response = await api.get(
        f"/api/v1/jobs/{job.id}/events",
        headers={**ALICE, "Last-Event-ID": str(history[0].id)},
    )

    events = parse_sse(response.text)
    assert [int(event["id"]) for event in events] == [history[1].id, history[2].id]
    last = json.loads(events[-1]["data"])
    assert last["status"] == "failed" and last["error"] == {"code": "boom", "message": "it broke"}


async def test_resuming_after_the_final_event_ends_at_once(api, services) -> None:
    job = await failed_job(services, "alice")
    last = (await services.store.events(job.id))[-1]
    response = await api.get(
        f"/api/v1/jobs/{job.id}/events", headers={**ALICE, "Last-Event-ID": str(last.id)}
    )
    assert response.status_code == 200 and parse_sse(response.text) == []


async def test_a_bad_last_event_id_is_a_400(api, services) -> None:
    job = await noop_job(services, "alice")
    response = await api.get(
        f"/api/v1/jobs/{job.id}/events", headers={**ALICE, "Last-Event-ID": "yesterday"}
    )
    assert_problem(response, 400)


# --- the audit trail of cancel and retry -------------------------------------------------------


async def test_cancel_and_retry_are_audited_with_their_change(api, services, settings) -> None:
    queued = await noop_job(services, "alice")
    failed = await failed_job(services, "alice")

    assert (await api.post(f"/api/v1/jobs/{queued.id}/cancel", headers=ALICE)).status_code == 200
    assert (await api.post(f"/api/v1/jobs/{failed.id}/retry", headers=ADMIN)).status_code == 202

    [cancel] = audit_events(settings.database_url, "job.cancel")
    assert (cancel["actor_id"], cancel["resource_type"]) == ("alice", "job")
    assert cancel["resource_id"] == str(queued.id) and cancel["changed_fields"] == ["status"]
    [retry] = audit_events(settings.database_url, "job.retry")
    assert (retry["actor_id"], retry["actor_role"]) == ("admin-1", "admin")
    assert retry["changed_fields"] == ["status", "max_attempts"]


async def test_a_refused_cancel_records_no_change(api, services, settings) -> None:
    job = await noop_job(services, "alice")
    await services.store.claim(job.id)
    assert_problem(await api.post(f"/api/v1/jobs/{job.id}/cancel", headers=ALICE), 409)
    assert_problem(await api.post(f"/api/v1/jobs/{job.id}/cancel", headers=BOB), 404)
    assert audit_events(settings.database_url, "job.cancel") == []


async def test_a_cancel_whose_audit_cannot_be_written_does_not_happen(
    api, services, monkeypatch
) -> None:
    """The event and the change share one transaction: no trail, no change."""
    job = await noop_job(services, "alice")

    async def broken(self, context, entry) -> None:
        raise RuntimeError("the audit trail is unavailable")

    monkeypatch.setattr(PgAuditLog, "record", broken)
    response = await api.post(f"/api/v1/jobs/{job.id}/cancel", headers=ALICE)

    assert_problem(response, 500)
    assert (await services.store.get(job.id)).status is JobStatus.QUEUED
