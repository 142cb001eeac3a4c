"""What every endpoint shares: health, metrics, problem details for routing errors, request ids."""

from __future__ import annotations

import re
import uuid

import msgspec
import pytest

from api.middleware.request_context import RequestContextMiddleware
from tests.support.api import ADMIN, api_client, assert_problem, bearer, job_rows, noop_job
from tests.support.servers import free_port


@pytest.fixture
async def api(settings):
    async with api_client(settings) as client:
        yield client


# --- health --------------------------------------------------------------------------------


async def test_live_and_ready(api) -> None:
    assert (await api.get("/health/live")).json() == {"status": "live"}
    ready = await api.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"postgres": "ok", "redis": "ok"}}


async def test_not_ready_names_redis_when_it_is_down(settings) -> None:
    dead_redis = msgspec.structs.replace(settings, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    async with api_client(dead_redis) as api:
        assert (await api.get("/health/live")).status_code == 200
        problem = assert_problem(await api.get("/health/ready"), 503)
    assert "redis" in problem["detail"] and "postgres" not in problem["detail"]
    assert problem["checks"]["postgres"] == "ok"
    assert problem["checks"]["redis"] != "ok"
    assert "127.0.0.1" not in str(problem)  # no connection strings in a response


# --- metrics -------------------------------------------------------------------------------


def sample(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        metric, _, raw_labels = series.partition("{")
        found = ",".join(sorted(raw_labels.rstrip("}").split(","))) if raw_labels else ""
        if metric == name and found == wanted:
            return float(value)
    raise AssertionError(f"no sample {name}{{{wanted}}}")


async def test_metrics_expose_jobs_queues_durations_and_http(api, services) -> None:
    done = await noop_job(services, "alice")
    running = await services.store.claim(done.id)
    await services.store.succeed(done.id, running.attempts, None)
    for _ in range(2):
        await noop_job(services, "bob")
    await services.sender.send(done, delay_seconds=600)  # a retry scheduled for later
    await api.get(f"/api/v1/jobs/{done.id}", headers=bearer("alice"))
    await api.get("/api/v1/jobs", headers=ADMIN)

    response = await api.get("/metrics", headers=ADMIN)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    for family in (
        "healthplat_jobs",
        "healthplat_job_duration_seconds",
        "healthplat_queue_messages",
        "healthplat_http_requests_total",
        "healthplat_http_request_duration_seconds",
        "healthplat_metrics_source_up",
    ):
        assert f"# HELP {family} " in text, family
    assert sample(text, "healthplat_jobs", kind="system.noop", status="queued") == 2
    assert sample(text, "healthplat_jobs", kind="system.noop", status="succeeded") == 1
    assert sample(text, "healthplat_jobs", kind="email.send", status="failed") == 0
    assert (
        sample(
            text, "healthplat_job_duration_seconds_count", kind="system.noop", status="succeeded"
        )
        == 1
    )
    assert (
        sample(
            text,
            "healthplat_job_duration_seconds_bucket",
            kind="system.noop",
            status="succeeded",
            le="+Inf",
        )
        == 1
    )
    assert sample(text, "healthplat_queue_messages", queue="default", state="ready") == 3
    assert sample(text, "healthplat_queue_messages", queue="default", state="delayed") == 1
    assert sample(text, "healthplat_queue_messages", queue="email", state="ready") == 0
    assert sample(text, "healthplat_metrics_source_up", source="postgres") == 1
    assert (
        sample(
            text,
            "healthplat_http_requests_total",
            method="GET",
            route="/api/v1/jobs/{job_id}",
            status="200",
        )
        == 1
    )
    assert str(done.id) not in text  # route templates, never raw paths


async def test_metrics_still_answer_when_redis_is_down(settings) -> None:
    dead_redis = msgspec.structs.replace(settings, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    async with api_client(dead_redis) as api:
        response = await api.get("/metrics", headers=ADMIN)
    assert response.status_code == 200
    assert sample(response.text, "healthplat_metrics_source_up", source="redis") == 0
    assert sample(response.text, "healthplat_metrics_source_up", source="postgres") == 1
    assert "healthplat_queue_messages{" not in response.text


# --- routing errors ------------------------------------------------------------------------


async def test_an_unknown_route_is_a_404_problem(api) -> None:
    problem = assert_problem(await api.get("/no/such/route"), 404)
    assert problem["title"] == "Not Found"
    assert_problem(await api.get("/api/v1/nothing-here", headers=ADMIN), 404)


async def test_a_wrong_method_is_a_405_problem_with_allow(api) -> None:
    response = await api.delete("/api/v1/jobs", headers=ADMIN)
    assert_problem(response, 405)
    assert "GET" in response.headers["allow"]


# --- values PostgreSQL cannot hold ------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/api/v1/jobs?kind=a%00b", "/api/v1/audit?resourceType=a%00b"],
    ids=["a list's filter", "the audit trail's filter"],
)
async def test_a_nul_character_in_a_query_is_a_400(api, path) -> None:
    problem = assert_problem(await api.get(path, headers=ADMIN), 400)
    assert problem["code"] == "unstorable_value"


async def test_a_control_character_in_a_command_is_refused_and_changes_nothing(
    api, settings
) -> None:
    for name in ("A\u0000B", "A\u001bB"):
        body = {"to": "someone@example.com", "template": "welcome", "data": {"name": name}}
        response = await api.post("/api/v1/notifications/email", headers=ADMIN, json=body)
        problem = assert_problem(response, 422)
        assert problem["errors"][0]["field"] == "data"
    assert job_rows(settings.database_url) == []


# --- request ids ---------------------------------------------------------------------------


async def test_a_sane_request_id_is_echoed(api) -> None:
    response = await api.get("/health/live", headers={"X-Request-ID": "req-42.a:b_c"})
    assert response.headers["x-request-id"] == "req-42.a:b_c"


@pytest.mark.parametrize("offered", ["", "has space", "x" * 200, "<script>", "a\\nb"])
async def test_an_insane_request_id_is_replaced(api, offered) -> None:
    response = await api.get("/health/live", headers={"X-Request-ID": offered})
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


async def test_every_response_carries_a_request_id(api) -> None:
    responses = [
        await api.get("/health/live"),
        await api.get("/api/v1/jobs"),  # 401
        await api.get("/nowhere"),  # no route
        await api.get(f"/api/v1/jobs/{uuid.uuid4()}", headers=ADMIN),  # 404 from the handler
    ]
    ids = [response.headers["x-request-id"] for response in responses]
    assert len(set(ids)) == len(ids)


async def test_the_access_log_names_the_route_not_the_path_or_query(monkeypatch) -> None:
    logged: list[tuple[str, dict]] = []

    class Recorder:
        def info(self, event: str, **fields: object) -> None:
            logged.append((event, fields))

    monkeypatch.setattr("api.middleware.request_context.log", Recorder())
    job_id = uuid.uuid4()
    scope = {
        "type": "http",
        "method": "GET",
        "path": f"/api/v1/jobs/{job_id}",
        "query_string": b"email=someone@example.com",
        "headers": [],
        "path_template": "/api/v1/jobs/{job_id:uuid}",
    }

    async def app(scope, receive, send) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def send(message) -> None:
        pass

    await RequestContextMiddleware().handle(scope, None, send, app)

    [(event, fields)] = logged
    assert event == "http_request"
    assert fields["route"] == "/api/v1/jobs/{job_id}" and fields["status"] == 204
    assert str(job_id) not in str(fields) and "example.com" not in str(fields)
