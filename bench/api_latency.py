"""API latency and request rate under wrk, for a command and for a read.

    .venv/bin/python -m bench.api_latency [--duration 10] [--connections 16] [--threads 2]

The bench starts the API itself (``uvicorn --factory api.app:create_app``, one
process, on a free port of 127.0.0.1) on a fresh migrated database, with
SMTP_URL unset and no worker running, and drives it with wrk (Debian package
``wrk``) for a fixed time each:

* ``POST /api/v1/notifications/email`` as an admin: validates, renders, and
  commits an email_messages row plus its job in one transaction, then sends
  the message to Redis (nothing consumes it; the Redis db is flushed after).
* ``GET /api/v1/jobs/{id}`` of one job, as its owner.
* the baseline, in the same run: ``GET /health/live`` with the same token
  header, which only goes through Litestar and uvicorn (no auth, database or
  Redis). The ratios say what share of the framework's own request rate each
  endpoint keeps.

Each endpoint gets a short warm-up run first; p50/p99 come from wrk's
``--latency`` distribution. Bounded by --duration; targets 127.0.0.1 only.

The per-user rate limit is raised out of the way (RATE_LIMIT_USER_PER_MINUTE)
so that every request does the endpoint's whole work; the limiter itself still
runs on every request. A run with any non-2xx answer or socket error is
reported as invalid (exit code 1): its figures would time refusals.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import psycopg

from api.tokens import mint_token
from bench._support import Child, Servers, app_env, free_port, fresh_database, note, table

BASELINE_LABEL = "GET /health/live (baseline)"

# Far above what one process can serve in a minute: the limiter counts, never refuses.
UNLIMITED_PER_MINUTE = 1_000_000_000

EMAIL_BODY = {"to": "bench@healthplat.dev", "template": "welcome", "data": {"name": "Bench"}}


@dataclass
class WrkResult:
    label: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value)
    if not match:
        raise ValueError(f"unexpected wrk latency {value!r}")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def parse_wrk(label: str, output: str) -> WrkResult:
    def percentile(p: str) -> float:
        match = re.search(rf"^\s*{p}%\s+(\S+)", output, re.MULTILINE)
        if not match:
            raise ValueError(f"no {p}% line in wrk output:\n{output}")
        return _ms(match.group(1))

    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if not rps or not total:
        raise ValueError(f"unexpected wrk output:\n{output}")
    errors = int(non_2xx.group(1)) if non_2xx else 0
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    return WrkResult(
        label=label,
        requests_per_second=float(rps.group(1)),
        p50_ms=percentile("50"),
        p99_ms=percentile("99"),
        requests=int(total.group(1)),
        errors=errors,
    )


def lua_script(path: Path, method: str, token: str, body: str | None) -> Path:
    lines = [
        f'wrk.method = "{method}"',
        f'wrk.headers["Authorization"] = "Bearer {token}"',
    ]
    if body is not None:
        lines.append('wrk.headers["Content-Type"] = "application/json"')
        lines.append(f"wrk.body = {json.dumps(body)}")
    path.write_text("\n".join(lines) + "\n")
    return path


def run_wrk(
    wrk: str, url: str, script: Path, args: argparse.Namespace, duration: float
) -> subprocess.CompletedProcess[str]:
    argv = [
        wrk,
        f"--threads={args.threads}",
        f"--connections={args.connections}",
        f"--duration={max(1, round(duration))}s",
        "--timeout=10s",
        "--latency",
        f"--script={script}",
        url,
    ]
    return subprocess.run(argv, capture_output=True, text=True, check=True, timeout=duration + 60)


def request(url: str, token: str, body: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method="POST" if body is not None else "GET")
    req.add_header("Authorization", f"Bearer {token}")
    if body is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, {}


def wait_ready(base: str, api: Child, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if api.process.poll() is not None:
            raise RuntimeError(f"the API exited; see {api.log_path}")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{base}/health/ready", timeout=2) as response,
        ):
            if response.status == 200:
                return
        time.sleep(0.2)
    raise TimeoutError(f"the API was not ready within {timeout}s; see {api.log_path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.api_latency", description=__doc__)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per endpoint")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up each")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    args = parser.parse_args(argv)
    if not 1 <= args.duration <= 300 or not 0 <= args.warmup <= 60:
        parser.error("--duration must be 1-300 s and --warmup 0-60 s")
    if not 1 <= args.connections <= 1000 or not 1 <= args.threads <= args.connections:
        parser.error("--connections must be 1-1000 and --threads 1..connections")
    wrk = shutil.which("wrk")
    if wrk is None:
        print("wrk is not installed: apt-get install -y wrk", file=sys.stderr)
        return 2

    results: list[WrkResult] = []
    with contextlib.ExitStack() as stack:
        servers = Servers(stack)
        workdir = Path(tempfile.mkdtemp(prefix="hp-bench-api-"))
        note(f"PostgreSQL: {servers.postgres_label}; Redis: {servers.redis_label}")
        note(f"logs in {workdir} (removed after a successful run)")
        database_url = stack.enter_context(fresh_database(servers.admin_database_url))
        servers.flush_redis()
        stack.callback(servers.flush_redis)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = app_env(
            database_url,
            servers.redis_url,
            workdir / "data",
            RATE_LIMIT_USER_PER_MINUTE=str(UNLIMITED_PER_MINUTE),
        )
        api = Child(
            [
                str(Path(sys.executable).parent / "uvicorn"),
                "--factory",
                "api.app:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env,
            workdir / "api.log",
        )
        stack.callback(api.stop)
        wait_ready(base, api)
        token = mint_token(env["JWT_SECRET"], "bench-admin", "admin", 3600)

        email_url = f"{base}/api/v1/notifications/email"
        status, accepted = request(email_url, token, EMAIL_BODY)
        if status != 202 or "jobId" not in accepted:
            raise RuntimeError(f"POST {email_url} answered {status}, not 202; see {api.log_path}")
        job_url = f"{base}/api/v1/jobs/{accepted['jobId']}"
        status, _ = request(job_url, token)
        if status != 200:
            raise RuntimeError(f"GET {job_url} answered {status}, not 200")

        post_script = lua_script(workdir / "post.lua", "POST", token, json.dumps(EMAIL_BODY))
        get_script = lua_script(workdir / "get.lua", "GET", token, None)
        live_url = f"{base}/health/live"
        plan = [
            (BASELINE_LABEL, live_url, get_script),
            ("POST /api/v1/notifications/email (202)", email_url, post_script),
            ("GET /api/v1/jobs/{id} (200)", job_url, get_script),
        ]
        for label, url, script in plan:
            if args.warmup:
                note(f"warming up {label} for {args.warmup:.0f}s")
                run_wrk(wrk, url, script, args, args.warmup)
            note(f"measuring {label} for {args.duration:.0f}s")
            results.append(parse_wrk(label, run_wrk(wrk, url, script, args, args.duration).stdout))

        with psycopg.connect(database_url) as conn:
            row = conn.execute("SELECT count(*) FROM jobs").fetchone()
            jobs_created = row[0] if row else 0
        stack.callback(shutil.rmtree, workdir, ignore_errors=True)  # kept only after a failure

    print(
        f"api latency: 1 uvicorn process, wrk {args.threads} threads x {args.connections} "
        f"connections, {args.duration:.0f}s per endpoint after {args.warmup:.0f}s warm-up"
    )
    print(f"servers: {servers.postgres_label}; {servers.redis_label}; SMTP_URL unset, no worker")
    print()
    rows = [
        [
            r.label,
            f"{r.requests_per_second:,.0f}",
            f"{r.p50_ms:.2f}",
            f"{r.p99_ms:.2f}",
            f"{r.requests:,}",
            str(r.errors),
        ]
        for r in results
    ]
    print(table(["endpoint", "req/s", "p50 ms", "p99 ms", "requests", "errors"], rows))
    print()
    baseline = next(r for r in results if r.label == BASELINE_LABEL)
    for r in results:
        if r is not baseline:
            ratio = r.requests_per_second / baseline.requests_per_second
            print(f"ratio {r.label} / baseline, req/s: {ratio:.2f}")
    print(f"checks: {jobs_created:,} jobs created by the POST runs (warm-up included, +1 probe)")
    failed = [r for r in results if r.errors]
    if failed:
        print(f"INVALID: non-2xx answers or socket errors in: {', '.join(r.label for r in failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
