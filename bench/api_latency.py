"""API latency and request rate under wrk, for a command and for a read, against the framework.

    .venv/bin/python -m bench.api_latency [--rounds 5] [--duration 5] [--connections 16]
                                          [--workers N] [--rate 500] [--open-duration 10]

The bench starts the API itself as the Procfile's ``web`` line does (``python -m api.serve
--workers N``: N processes, each listening on its own SO_REUSEPORT socket; N from --workers,
else WEB_CONCURRENCY, else 2, on a free port of 127.0.0.1) on a fresh migrated database,
with SMTP_URL unset and no worker running, and drives it with wrk (Debian package ``wrk``):

* ``POST /api/v1/notifications/email`` as an admin: validates, renders, and
  commits an email_messages row plus its job and its audit event in one transaction, then
  sends the message to Redis (nothing consumes it; the Redis db is flushed after).
* ``GET /api/v1/jobs/{id}`` as the jobs' owner, each request of the closed loop reading the
  next of READ_JOBS jobs in turn (as many clients polling their own jobs do; the open loop
  reads one).
* the baseline, in the same run: ``GET /health/live`` with the same token
  header, which only goes through Litestar and uvicorn (no auth, database or
  Redis), served by the same processes.

Closed loop (wrk, --connections at once, as fast as answers come): --rounds rounds, each
running the baseline, the command and the read for --duration seconds, one after the other
(interleaved pairs: A, B, C, A, B, C ...), so a change in the machine's other load falls on
all three. The ratio of each endpoint to the baseline is taken per round; the bench prints
the median and the range. The first round is preceded by a warm-up of each.

Open loop (--rate, default 500 req/s, for --open-duration s): requests are sent on a fixed
schedule over --connections keep-alive connections, whatever the answers do, and each one's
latency is counted from when it was *due* (so a server that falls behind is charged for the
queue it builds; wrk's closed loop would hide it). p50/p99 of the command and of the read.

The per-user rate limit is raised out of the way (RATE_LIMIT_USER_PER_MINUTE)
so that every request does the endpoint's whole work; the limiter itself still
runs on every request. A run with any non-2xx answer or socket error is
reported as invalid (exit code 1): its figures would time refusals.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import re
import shutil
import statistics
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
from bench._support import (
    Child,
    Servers,
    Unavailable,
    app_env,
    figure,
    free_port,
    fresh_database,
    note,
    table,
)

BASELINE_LABEL = "GET /health/live (baseline)"
COMMAND_LABEL = "POST /api/v1/notifications/email (202)"
READ_LABEL = "GET /api/v1/jobs/{id} (200)"
EMAIL_PATH = "/api/v1/notifications/email"
# The Procfile's web line: uvicorn --workers "${WEB_CONCURRENCY:-2}".
DEFAULT_WEB_CONCURRENCY = 2

# Far above what one process can serve in a minute: the limiter counts, never refuses.
UNLIMITED_PER_MINUTE = 1_000_000_000

EMAIL_BODY = {"to": "bench@healthplat.dev", "template": "welcome", "data": {"name": "Bench"}}
# The jobs the read's closed loop goes round (made by as many commands before the runs).
READ_JOBS = 64


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


def lua_script(
    path: Path, method: str, token: str, body: str | None, paths: list[str] | None = None
) -> Path:
    """wrk's script: ``method`` with the token (and a JSON ``body``), to the URL's path, or
    to each of ``paths`` in turn."""
    lines = [
        f'wrk.method = "{method}"',
        f'wrk.headers["Authorization"] = "Bearer {token}"',
    ]
    if body is not None:
        lines.append('wrk.headers["Content-Type"] = "application/json"')
        lines.append(f"wrk.body = {json.dumps(body)}")
    if paths:
        lines.append("paths = {" + ", ".join(json.dumps(p) for p in paths) + "}")
        lines.append("turn = 0")
        lines.append("request = function()")
        lines.append("  turn = turn % #paths + 1")
        lines.append("  return wrk.format(nil, paths[turn])")
        lines.append("end")
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


@dataclass
class OpenLoopResult:
    label: str
    rate: float
    sent: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: int


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request_bytes: bytes
) -> int:
    """One HTTP/1.1 request on a keep-alive connection; the status (the body is read whole)."""
    writer.write(request_bytes)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
        elif name.strip().lower() == b"transfer-encoding":
            raise RuntimeError("a chunked answer: the open-loop client reads Content-Length only")
    if length:
        await reader.readexactly(length)
    return status


async def _open_loop(
    port: int, request_bytes: bytes, rate: float, duration: float, connections: int
) -> tuple[list[float], int]:
    """Send ``rate`` requests a second for ``duration`` s on a fixed schedule; latencies (ms)
    from each request's due time, and the number of failures."""
    loop = asyncio.get_running_loop()
    idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(connections):
        idle.put_nowait(await asyncio.open_connection("127.0.0.1", port))
    latencies: list[float] = []
    errors = 0
    total = int(rate * duration)

    async def one(due: float) -> None:
        nonlocal errors
        reader, writer = await idle.get()  # none free: this request waits, and is charged
        try:
            status = await _exchange(reader, writer, request_bytes)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            errors += 1
            writer.close()
            idle.put_nowait(await asyncio.open_connection("127.0.0.1", port))
            return
        latencies.append((loop.time() - due) * 1000)
        if not 200 <= status < 300:
            errors += 1
        idle.put_nowait((reader, writer))

    start = loop.time() + 0.05
    tasks = []
    for i in range(total):
        due = start + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(due)))
    await asyncio.gather(*tasks)
    while not idle.empty():
        _, writer = idle.get_nowait()
        writer.close()
    return latencies, errors


def http_request_bytes(method: str, path: str, token: str, body: bytes | None) -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        "Host: 127.0.0.1",
        f"Authorization: Bearer {token}",
    ]
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


def open_loop(
    label: str, port: int, request_bytes: bytes, args: argparse.Namespace
) -> OpenLoopResult:
    latencies, errors = asyncio.run(
        _open_loop(port, request_bytes, args.rate, args.open_duration, args.connections)
    )
    if not latencies:
        raise RuntimeError(f"no answer at all in the open-loop run of {label}")
    return OpenLoopResult(
        label=label,
        rate=args.rate,
        sent=len(latencies) + errors,
        p50_ms=_percentile(latencies, 0.50),
        p99_ms=_percentile(latencies, 0.99),
        max_ms=max(latencies),
        errors=errors,
    )


def _workers(args: argparse.Namespace) -> int:
    if args.workers is not None:
        return args.workers
    return int(os.environ.get("WEB_CONCURRENCY", DEFAULT_WEB_CONCURRENCY))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.api_latency",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (ratio: median)")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per endpoint a round")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up each")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument(
        "--workers", type=int, default=None, help="uvicorn processes (default: WEB_CONCURRENCY, 2)"
    )
    parser.add_argument("--rate", type=float, default=500.0, help="open-loop requests a second")
    parser.add_argument(
        "--open-duration", type=float, default=10.0, help="seconds of each open-loop run (0: none)"
    )
    return parser


def _check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """The arguments' bounds (``parser.error`` when out of them); the uvicorn process count."""
    if not 1 <= args.duration <= 300 or not 0 <= args.warmup <= 60:
        parser.error("--duration must be 1-300 s and --warmup 0-60 s")
    if not 1 <= args.rounds <= 50:
        parser.error("--rounds must be 1-50")
    if not 1 <= args.connections <= 1000 or not 1 <= args.threads <= args.connections:
        parser.error("--connections must be 1-1000 and --threads 1..connections")
    if not 1 <= args.rate <= 20_000 or not 0 <= args.open_duration <= 300:
        parser.error("--rate must be 1-20000 and --open-duration 0-300 s")
    workers = _workers(args)
    if not 1 <= workers <= 64:
        parser.error("--workers (or WEB_CONCURRENCY) must be 1-64")
    return workers


@dataclass
class Measured:
    """What one run measured (``main`` prints it, ``figures`` tabulates it)."""

    rounds: list[dict[str, WrkResult]]
    open_results: list[OpenLoopResult]
    skipped: list[str]  # open-loop runs not made, and why
    jobs_created: int
    postgres_label: str
    redis_label: str
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]


def measure(args: argparse.Namespace, workers: int, wrk: str) -> Measured:
    rounds: list[dict[str, WrkResult]] = []
    open_results: list[OpenLoopResult] = []
    skipped: list[str] = []
    load_before = os.getloadavg()
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
                sys.executable,
                "-m",
                "api.serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(workers),
            ],
            env,
            workdir / "api.log",
        )
        stack.callback(api.stop)
        wait_ready(base, api)
        token = mint_token(env["JWT_SECRET"], "bench-admin", "admin", 3600)

        email_url = f"{base}/api/v1/notifications/email"
        job_paths = []
        for _ in range(READ_JOBS):
            status, accepted = request(email_url, token, EMAIL_BODY)
            if status != 202 or "jobId" not in accepted:
                raise RuntimeError(f"POST {email_url} answered {status}; see {api.log_path}")
            job_paths.append(f"/api/v1/jobs/{accepted['jobId']}")
            status, _ = request(base + job_paths[-1], token)
            if status != 200:
                raise RuntimeError(f"GET {base + job_paths[-1]} answered {status}, not 200")
        job_path = job_paths[0]

        post_script = lua_script(workdir / "post.lua", "POST", token, json.dumps(EMAIL_BODY))
        get_script = lua_script(workdir / "get.lua", "GET", token, None)
        read_script = lua_script(workdir / "read.lua", "GET", token, None, job_paths)
        plan = [
            (BASELINE_LABEL, f"{base}/health/live", get_script),
            (COMMAND_LABEL, email_url, post_script),
            (READ_LABEL, base + job_path, read_script),
        ]
        if args.warmup:
            for label, url, script in plan:
                note(f"warming up {label} for {args.warmup:.0f}s")
                run_wrk(wrk, url, script, args, args.warmup)
        for number in range(1, args.rounds + 1):
            results: dict[str, WrkResult] = {}
            for label, url, script in plan:
                note(f"round {number}/{args.rounds}: {label} for {args.duration:.0f}s")
                output = run_wrk(wrk, url, script, args, args.duration).stdout
                results[label] = parse_wrk(label, output)
            rounds.append(results)
        if args.open_duration:
            body = json.dumps(EMAIL_BODY).encode()
            for label, request_bytes in (
                (COMMAND_LABEL, http_request_bytes("POST", EMAIL_PATH, token, body)),
                (READ_LABEL, http_request_bytes("GET", job_path, token, None)),
            ):
                ceiling = max(results[label].requests_per_second for results in rounds)
                if ceiling < args.rate:
                    # The queue would only grow: its p99 would measure --open-duration.
                    skipped.append(f"{label}: its closed-loop best, {ceiling:,.0f} req/s")
                    continue
                note(f"open loop: {label} at {args.rate:.0f} req/s for {args.open_duration:.0f}s")
                open_results.append(open_loop(label, port, request_bytes, args))

        with psycopg.connect(database_url) as conn:
            row = conn.execute("SELECT count(*) FROM jobs").fetchone()
            jobs_created = row[0] if row else 0
        stack.callback(shutil.rmtree, workdir, ignore_errors=True)  # kept only after a failure
    load_after = os.getloadavg()
    return Measured(
        rounds,
        open_results,
        skipped,
        jobs_created,
        servers.postgres_label,
        servers.redis_label,
        load_before,
        load_after,
    )


def figures(quick: bool = False) -> dict[str, object]:
    """For ``python -m bench``: the command's and the read's req/s against GET /health/live
    (median of the rounds' ratios), and their open-loop p99 at --rate req/s."""
    parser = _parser()
    quick_argv = ["--rounds", "3", "--duration", "3", "--warmup", "1", "--open-duration", "5"]
    args = parser.parse_args(quick_argv if quick else [])
    workers = _check(parser, args)
    wrk = shutil.which("wrk")
    if wrk is None:
        raise Unavailable("wrk is not installed (apt-get install -y wrk)")
    measured = measure(args, workers, wrk)
    rounds = measured.rounds
    baseline = statistics.median([r[BASELINE_LABEL].requests_per_second for r in rounds])
    rows = []
    for label, name, target in ((COMMAND_LABEL, "command", 0.3), (READ_LABEL, "GET job", 0.6)):
        ratio = statistics.median(
            [r[label].requests_per_second / r[BASELINE_LABEL].requests_per_second for r in rounds]
        )
        rows.append(
            figure(
                f"{name}: {label}",
                statistics.median([r[label].requests_per_second for r in rounds]),
                "req/s",
                baseline=baseline,
                baseline_name=f"{BASELINE_LABEL}, median of {len(rounds)} rounds",
                ratio=ratio,
                target=f"ratio >= {target}",
                met=ratio >= target,
            )
        )
    target = f"p99 < 20 ms at {args.rate:,.0f} req/s"
    for result in measured.open_results:
        rows.append(
            figure(
                f"open loop p99: {result.label}",
                result.p99_ms,
                "ms",
                target=target,
                met=result.p99_ms < 20 and not result.errors,
            )
        )
    ran = {result.label for result in measured.open_results}
    for label in (COMMAND_LABEL, READ_LABEL):
        if args.open_duration and label not in ran:  # its closed-loop best is below the rate
            rows.append(
                figure(
                    f"open loop not run, {label}: closed-loop best below the rate",
                    max(r[label].requests_per_second for r in rounds),
                    "req/s",
                    target=target,
                    met=False,
                )
            )
    errors = sum(r.errors for results in rounds for r in results.values())
    errors += sum(o.errors for o in measured.open_results)
    rows.append(figure("non-2xx answers and socket errors", errors, "", target="0", met=not errors))
    return {
        "rows": rows,
        "workers": workers,
        "rounds": [{k: dataclasses.asdict(v) for k, v in r.items()} for r in rounds],
        "open_loop": [dataclasses.asdict(o) for o in measured.open_results],
        "open_loop_skipped": measured.skipped,
    }


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    workers = _check(parser, args)
    wrk = shutil.which("wrk")
    if wrk is None:
        print("wrk is not installed: apt-get install -y wrk", file=sys.stderr)
        return 2
    measured = measure(args, workers, wrk)
    rounds, open_results, skipped = measured.rounds, measured.open_results, measured.skipped
    load_before, load_after = measured.load_before, measured.load_after
    jobs_created = measured.jobs_created

    print(
        f"api latency: {workers} uvicorn process(es) (--workers), wrk {args.threads} threads x "
        f"{args.connections} connections, {args.rounds} interleaved rounds of "
        f"{args.duration:.0f}s per endpoint after {args.warmup:.0f}s warm-up each"
    )
    print(f"servers: {measured.postgres_label}; {measured.redis_label}; SMTP_URL unset, no worker")
    print(
        f"machine: {os.cpu_count()} cores; load average {load_before[0]:.2f} before, "
        f"{load_after[0]:.2f} after"
    )
    print()
    rows = []
    for number, results in enumerate(rounds, 1):
        baseline = results[BASELINE_LABEL].requests_per_second
        for r in results.values():
            ratio = r.requests_per_second / baseline
            rows.append(
                [
                    str(number),
                    r.label,
                    f"{r.requests_per_second:,.0f}",
                    f"{r.p50_ms:.2f}",
                    f"{r.p99_ms:.2f}",
                    f"{ratio:.2f}",
                    str(r.errors),
                ]
            )
    print(table(["round", "endpoint", "req/s", "p50 ms", "p99 ms", "ratio", "errors"], rows))
    print()
    for label in (COMMAND_LABEL, READ_LABEL):
        ratios = [
            results[label].requests_per_second / results[BASELINE_LABEL].requests_per_second
            for results in rounds
        ]
        rates = [results[label].requests_per_second for results in rounds]
        print(
            f"ratio {label} / baseline, req/s: median {statistics.median(ratios):.2f} "
            f"(range {min(ratios):.2f}-{max(ratios):.2f}, {len(ratios)} rounds); "
            f"median {statistics.median(rates):,.0f} req/s"
        )
    baselines = [results[BASELINE_LABEL].requests_per_second for results in rounds]
    print(f"baseline median {statistics.median(baselines):,.0f} req/s")
    if open_results:
        print()
        print(
            table(
                ["open loop", "offered req/s", "sent", "p50 ms", "p99 ms", "max ms", "errors"],
                [
                    [
                        o.label,
                        f"{o.rate:,.0f}",
                        f"{o.sent:,}",
                        f"{o.p50_ms:.2f}",
                        f"{o.p99_ms:.2f}",
                        f"{o.max_ms:.1f}",
                        str(o.errors),
                    ]
                    for o in open_results
                ],
            )
        )
    for reason in skipped:
        print(f"open loop at {args.rate:,.0f} req/s not run, above the ceiling: {reason}")
    print(
        f"checks: {jobs_created:,} jobs created by the POST runs "
        f"(warm-up included, +{READ_JOBS} for the read)"
    )
    failed = sorted(
        {r.label for results in rounds for r in results.values() if r.errors}
        | {o.label for o in open_results if o.errors}
    )
    if failed:
        print(f"INVALID: non-2xx answers or socket errors in: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
