"""PostgreSQL misbehaving: every statement is bounded, and a lost database is a 503, never a 500."""

from __future__ import annotations

import asyncio
import contextlib

import msgspec
import psycopg
import pytest

from tests.support.api import ADMIN, api_client, assert_problem
from tests.support.platform import running_services
from tests.support.tcp_proxy import postgres_behind_proxy


async def test_a_statement_longer_than_the_timeout_is_cancelled(settings) -> None:
    bounded = msgspec.structs.replace(settings, db_statement_timeout_seconds=0.2)
    async with running_services(bounded) as services, services.pool.connection() as conn:
        with pytest.raises(psycopg.errors.QueryCanceled):
            await conn.execute("SELECT pg_sleep(5)")
        row = await (await conn.execute("SHOW statement_timeout")).fetchone()
    assert row == {"statement_timeout": "200ms"}


async def test_a_database_lost_after_start_makes_the_api_not_ready_and_its_reads_503(
    settings,
) -> None:
    with postgres_behind_proxy(settings.database_url) as (proxy, proxied_url):
        behind = msgspec.structs.replace(settings, database_url=proxied_url)
        async with api_client(behind) as api:
            assert (await api.get("/health/ready")).status_code == 200
            assert (await api.get("/api/v1/jobs", headers=ADMIN)).status_code == 200

            proxy.cut()

            assert (await api.get("/health/live")).status_code == 200
            problem = assert_problem(await api.get("/health/ready"), 503)
            assert "postgres" in problem["detail"] and "redis" not in problem["detail"]
            assert problem["checks"]["redis"] == "ok"
            response = await api.get("/api/v1/jobs", headers=ADMIN)
            problem = assert_problem(response, 503)
            assert problem["code"] == "database_unavailable"
            assert response.headers["retry-after"] == "5"
            assert "127.0.0.1" not in response.text and "psycopg" not in response.text


@contextlib.asynccontextmanager
async def an_api_whose_database_restarted(settings):  # type: ignore[no-untyped-def]
    """The API with several idle pooled connections, all of which a restart of the server
    (while they sat idle) has just killed; new connections work."""
    with postgres_behind_proxy(settings.database_url) as (proxy, proxied_url):
        behind = msgspec.structs.replace(settings, database_url=proxied_url)
        async with api_client(behind) as api:
            filled = await asyncio.gather(
                *(api.get("/api/v1/jobs", headers=ADMIN) for _ in range(6))
            )
            assert {r.status_code for r in filled} == {200}
            proxy.drop_connections()
            yield api


async def reads(api, count: int) -> list[int]:  # type: ignore[no-untyped-def]
    return [(await api.get("/api/v1/jobs", headers=ADMIN)).status_code for _ in range(count)]


async def test_after_a_restart_readiness_reports_the_server_not_its_dead_connections(
    settings,
) -> None:
    async with an_api_whose_database_restarted(settings) as api:
        assert (await api.get("/health/ready")).json()["status"] == "ready"
        assert await reads(api, 8) == [200] * 8  # the probe replaced every dead connection


async def test_after_a_restart_one_dead_connection_fails_one_request_not_one_each(
    settings,
) -> None:
    async with an_api_whose_database_restarted(settings) as api:
        statuses = await reads(api, 8)
    assert statuses[0] == 503  # it met a dead connection (and said so: no silent retry)
    assert statuses[1:] == [200] * 7  # the others were tested and replaced meanwhile
