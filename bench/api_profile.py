"""Where a request's time goes, in counts that do not depend on the machine's load.

    .venv/bin/python -m bench.api_profile [--requests 300] [--profile-out DIR]

Builds the app in this process (``create_app`` and its lifespan, on a fresh migrated
database, SMTP unset, the per-user rate limit raised) and calls it as an ASGI app,
one request after another, with no HTTP server or client: the baseline ``GET
/health/live``, then ``POST /api/v1/notifications/email`` and ``GET /api/v1/jobs/{id}``
as in bench.api_latency, and an audited read (``GET /api/v1/payments``, an admin's page,
whose read is recorded in the audit trail). For each it prints the wall and CPU time per
request (both follow the machine's load; the ratio to the baseline in the same run less
so), the CPU time of the database's backends per request (read from /proc; it includes
the work a request leaves running behind its answer, the audit chaining), the Python
function calls per request counted by cProfile (a coroutine's resumptions count as
calls), the SQL statements per request by their text (BEGIN and COMMIT too: each is a
round trip), and the Redis commands sent one by one through the asyncio client (the rate
limiter's; the job's message goes in a pipeline and is not counted). ``--profile-out``
keeps each endpoint's cProfile listing, by cumulative and by own time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import os
import pstats
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import psycopg
import redis.asyncio.client
from psycopg._connection_base import BaseConnection

from bench._support import (
    Servers,
    app_env,
    database_cpu_seconds,
    fresh_database,
    note,
    table,
)

COUNTS: Counter[str] = Counter()
EMAIL_BODY = {"to": "bench@healthplat.dev", "template": "welcome", "data": {"name": "Bench"}}
UNLIMITED_PER_MINUTE = 1_000_000_000


def _statement_text(query: Any, cursor: Any) -> str:
    if not isinstance(query, str | bytes):
        query = query.as_string(cursor.connection)
    if isinstance(query, bytes):
        query = query.decode()
    return " ".join(query.split())[:100]


def count_round_trips() -> None:
    """Count SQL statements (BEGIN and COMMIT included) and asyncio Redis commands from here
    on (this process only)."""
    execute = psycopg.AsyncCursor.execute
    command = redis.asyncio.client.Redis.execute_command
    transaction_command = BaseConnection._exec_command

    def counted_transaction_command(self: Any, command: Any, *args: Any, **kwargs: Any) -> Any:
        text = command.decode() if isinstance(command, bytes) else command.as_string(self)
        COUNTS["sql: " + text] += 1
        return transaction_command(self, command, *args, **kwargs)

    async def counted_execute(self: Any, query: Any, params: Any = None, **kwargs: Any) -> Any:
        COUNTS["sql: " + _statement_text(query, self)] += 1
        return await execute(self, query, params, **kwargs)

    async def counted_command(self: Any, *args: Any, **options: Any) -> Any:
        COUNTS[f"redis: {args[0]}"] += 1
        return await command(self, *args, **options)

    psycopg.AsyncCursor.execute = counted_execute  # type: ignore[method-assign]
    BaseConnection._exec_command = counted_transaction_command  # type: ignore[method-assign]
    redis.asyncio.client.Redis.execute_command = counted_command  # type: ignore[method-assign]


async def call(app: Any, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    delivered = False
    status = 0
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client never disconnects
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


async def measure(
    label: str,
    request: Callable[[], Awaitable[tuple]],
    requests: int,
    out: Path | None,
    database_url: str,
    settle: Callable[[], Awaitable[None]],
) -> list[str]:
    for _ in range(min(50, requests)):  # warm-up: caches, prepared statements, pool
        await request()
    COUNTS.clear()
    database_cpu = database_cpu_seconds(database_url)
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(requests):
        status, body = await request()
        if not 200 <= status < 300:
            raise RuntimeError(f"{label} answered {status}: {body[:200]!r}")
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    await settle()  # the work behind the last answer (the audit chaining) is done
    database_cpu = database_cpu_seconds(database_url) - database_cpu
    counts = dict(COUNTS)
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(requests):
        await request()
    profile.disable()
    stats = pstats.Stats(profile)
    if out is not None:
        for order in ("cumulative", "tottime"):
            text = io.StringIO()
            pstats.Stats(profile, stream=text).sort_stats(order).print_stats(60)
            name = label.split(" (")[0].replace("/", "_").replace(" ", "").replace("{", "")
            (out / f"{name.replace('}', '')}.{order}.txt").write_text(text.getvalue())
    return [
        label,
        f"{wall / requests * 1000:.3f}",
        f"{cpu / requests * 1000:.3f}",
        f"{database_cpu / requests * 1000:.3f}",
        f"{stats.total_calls / requests:,.0f}",
        f"{sum(v for k, v in counts.items() if k.startswith('sql')) / requests:.1f}",
        f"{sum(v for k, v in counts.items() if k.startswith('redis')) / requests:.1f}",
    ] + [f"{v / requests:.2f} x {k}" for k, v in sorted(counts.items())]


async def run(args: argparse.Namespace) -> list[list[str]]:
    from api.app import create_app
    from api.tokens import mint_token

    app = create_app()
    token = mint_token(os.environ["JWT_SECRET"], "bench-admin", "admin", 3600)
    headers = {"host": "127.0.0.1", "authorization": f"Bearer {token}"}
    json_headers = {**headers, "content-type": "application/json"}
    body = json.dumps(EMAIL_BODY).encode()
    async with app.lifespan():
        status, answer = await call(app, "POST", "/api/v1/notifications/email", json_headers, body)
        if status != 202:
            raise RuntimeError(f"the probe command answered {status}")
        job_path = f"/api/v1/jobs/{json.loads(answer)['jobId']}"
        plan = [
            ("GET /health/live (baseline)", "GET", "/health/live", headers, b""),
            ("POST /api/v1/notifications/email", "POST", "/api/v1/notifications/email",
             json_headers, body),
            ("GET /api/v1/jobs/{id}", "GET", job_path, headers, b""),
            ("GET /api/v1/payments (audited)", "GET", "/api/v1/payments", headers, b""),
        ]  # fmt: skip
        rows = []
        for label, method, path, hdrs, data in plan:
            note(f"{label}: {args.requests} requests, then as many under cProfile")
            rows.append(
                await measure(
                    label,
                    lambda m=method, p=path, h=hdrs, d=data: call(app, m, p, h, d),
                    args.requests,
                    args.profile_out,
                    os.environ["DATABASE_URL"],
                    app.state.services.audit_chaining.settle,
                )
            )
        return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.api_profile",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--requests", type=int, default=300, help="requests per endpoint")
    parser.add_argument("--profile-out", type=Path, default=None, help="keep cProfile listings")
    args = parser.parse_args(argv)
    if not 10 <= args.requests <= 100_000:
        parser.error("--requests must be 10-100000")
    if args.profile_out is not None:
        args.profile_out.mkdir(parents=True, exist_ok=True)
    count_round_trips()
    with contextlib.ExitStack() as stack:
        servers = Servers(stack)
        database_url = stack.enter_context(fresh_database(servers.admin_database_url))
        servers.flush_redis()
        stack.callback(servers.flush_redis)
        workdir = Path(tempfile.mkdtemp(prefix="hp-bench-profile-"))
        env = app_env(
            database_url,
            servers.redis_url,
            workdir / "data",
            RATE_LIMIT_USER_PER_MINUTE=str(UNLIMITED_PER_MINUTE),
            LOG_LEVEL="WARNING",  # the access log would write to this terminal
        )
        os.environ.update(env)
        rows = asyncio.run(run(args))
    load = os.getloadavg()[0]
    print(
        f"api profile: in-process ASGI calls, one at a time; {os.cpu_count()} cores, "
        f"load average {load:.2f}"
    )
    print()
    headers = ["endpoint", "wall ms", "cpu ms", "PostgreSQL cpu ms", "py calls", "SQL", "Redis"]
    print(table(headers, [row[:7] for row in rows]))
    baseline_cpu = float(rows[0][2])
    print()
    for row in rows[1:]:
        print(f"{row[0]}: cpu per request {float(row[2]) / baseline_cpu:.1f}x the baseline's")
        for detail in row[7:]:
            print(f"    {detail}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
