"""Helpers for API tests: the real app (real lifespan, PostgreSQL, Redis) behind AsyncTestClient.

AsyncTestClient runs the app on its own event loop in a portal thread and
blocks the test's loop for the length of each request. So tests set jobs up
through their own ``services`` (same database, their own pool), and anything
that must happen *during* a request is started on the app's loop with
``on_app_loop``, using the app's services.

The app sees the client address in the ASGI scope only (never a header);
the test transport always says ``testclient``. A request that carries
``from_address(...)`` is seen as coming from that address instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager
from itertools import count
from pathlib import Path
from typing import Any

import httpx
import msgspec
import psycopg
from litestar import Litestar
from litestar.testing import AsyncTestClient
from litestar.types import Receive, Scope, Send
from psycopg.rows import dict_row

from api.app import create_app
from api.middleware.http_metrics import HttpMetrics, HttpMetricsMiddleware
from api.tokens import mint_token
from domain.adapters.bootstrap import Services
from domain.identity import Role
from domain.jobs.model import Job, NewJob
from domain.jobs.submit import submit_job
from domain.jobs.system import NOOP
from domain.settings import Settings
from tests.conftest import TEST_JWT_SECRET

PROBLEM_JSON = "application/problem+json"
# Read by the test client's wrapper below, never by the app.
CLIENT_ADDRESS_HEADER = "x-test-client-address"


# Building the app registers some 135 routes (half a second): tests reuse one app per
# construction-time settings, with this test's settings and fresh HTTP metrics in its state
# (its services are made by the lifespan, per client, from those settings).
_IDLE_APPS: dict[bytes, list[Litestar]] = {}


def _construction_key(settings: Settings) -> bytes:
    """What the app is built from, less what only its lifespan reads (the services' URLs)."""
    apart = msgspec.structs.replace(
        settings, database_url="", redis_url="", data_dir=Path("."), phi_keys={}
    )
    return msgspec.json.encode(apart, enc_hook=str)


def _app_for(settings: Settings) -> Litestar:
    idle = _IDLE_APPS.setdefault(_construction_key(settings), [])
    if not idle:
        app = create_app(settings)
        _peer_from_test_header(app)
        return app
    app = idle.pop()
    fresh = HttpMetrics()
    app.state.settings = settings
    app.state.http_metrics = fresh
    for middleware in app.middleware:
        if isinstance(middleware, HttpMetricsMiddleware):
            middleware.metrics = fresh
    return app


@asynccontextmanager
async def api_client(settings: Settings) -> AsyncIterator[AsyncTestClient[Litestar]]:
    app = _app_for(settings)
    try:
        async with AsyncTestClient(app=app) as client:
            yield client
    finally:
        _IDLE_APPS[_construction_key(settings)].append(app)


def from_address(address: str) -> dict[str, str]:
    """Headers that make the app see the request come from ``address`` (the ASGI peer)."""
    return {CLIENT_ADDRESS_HEADER: address}


def client_addresses() -> Iterator[dict[str, str]]:
    """A new client address for every request (IPv6 documentation prefix; nothing is sent)."""
    return (from_address(f"2001:db8::{n:x}") for n in count(1))


def _peer_from_test_header(app: Litestar) -> None:
    inner = app.asgi_handler
    header = CLIENT_ADDRESS_HEADER.encode()

    async def handler(scope: Scope, receive: Receive, send: Send) -> None:
        for name, value in scope.get("headers", ()):
            if name == header:
                scope["client"] = (value.decode("latin-1"), 50000)
        await inner(scope, receive, send)

    app.asgi_handler = handler


def bearer(
    sub: str = "patient-1", role: Role | str = Role.PATIENT, ttl: int = 3600, secret: str = ""
) -> dict[str, str]:
    token = mint_token(secret or TEST_JWT_SECRET, sub, role, ttl)
    return {"Authorization": f"Bearer {token}"}


ADMIN = bearer("admin-1", Role.ADMIN)


def app_services(client: AsyncTestClient[Litestar]) -> Services:
    return client.app.state.services


def on_app_loop(
    client: AsyncTestClient[Litestar], work: Callable[[], Coroutine[Any, Any, Any]]
) -> Any:
    """Start ``work`` on the app's event loop; returns a concurrent Future of its result."""
    return client.blocking_portal.start_task_soon(work)


async def audit_chained(client: AsyncTestClient[Litestar]) -> None:
    """Wait for the audit chainings the app's requests asked for (they run behind the
    answers, on the app's event loop)."""
    await asyncio.wrap_future(on_app_loop(client, app_services(client).audit_chaining.settle))


async def noop_job(services: Services, owner_id: str) -> Job:
    new = NewJob(kind=NOOP, owner_id=owner_id, payload={})
    return (await submit_job(services.uow, services.sender, new)).job


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body = response.json()
    assert body["status"] == status
    assert {"type", "title", "detail"} <= body.keys()
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def job_rows(database_url: str) -> list[dict[str, Any]]:
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        return conn.execute("SELECT * FROM jobs ORDER BY created_at").fetchall()
