"""Idle latency: how long a job submitted to an idle platform waits before it runs.

    .venv/bin/python -m bench.idle_latency [--samples 100] [--gap 0.2-1.0]

The worker pool of the Procfile's ``worker`` line (``dramatiq workers.app --queues
default email ipfs --processes 2 --threads 8``) is started on a fresh database and
left idle; then, one at a time with a random pause of ``--gap`` seconds before each
(long enough for every consumer to be back in its idle wait), a ``system.noop`` job is
submitted through ``submit_job`` (row committed, one INSERT without a transaction
since the job has no rows of its own; then the message sent) and awaited. submit ->
running is the job row's ``started_at - created_at`` (``created_at`` is taken just
before the INSERT, ``started_at`` by the claim); submit -> succeeded is
``finished_at - created_at``.

The baseline, in the same run: bare Dramatiq (bench/bare_actor.py, the same pool
flags on the ``default`` queue) with an actor that records ``time.time()`` at its
start minus the ``time.time()`` taken just before ``send()``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import redis

from bench._support import Child, Servers, app_env, figure, fresh_database, note, table
from bench.throughput import READY_LINE
from domain.adapters.bootstrap import build_services
from domain.adapters.jobs.messaging import build_broker
from domain.jobs.model import NewJob
from domain.jobs.submit import submit_job
from domain.jobs.system import NOOP
from domain.settings import load_settings

PROCFILE_QUEUES = ["default", "email", "ipfs"]
STAMPS_KEY = "bench:idle:stamps"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def latency_summary(name: str, seconds: list[float]) -> dict[str, float | str]:
    ms = [s * 1000 for s in seconds]
    return {
        "name": name,
        "samples": len(ms),
        "p50_ms": statistics.median(ms),
        "p99_ms": percentile(ms, 0.99),
        "max_ms": max(ms),
    }


def pool_argv(module: str, queues: list[str], args: argparse.Namespace) -> list[str]:
    executable = str(Path(sys.executable).parent / "dramatiq")
    return [
        executable,
        module,
        "--queues",
        *queues,
        "--processes",
        str(args.processes),
        "--threads",
        str(args.threads),
    ]


def gaps(args: argparse.Namespace) -> list[float]:
    low, _, high = args.gap.partition("-")
    rng = random.Random(args.seed)
    return [rng.uniform(float(low), float(high or low)) for _ in range(args.samples)]


def run_bare(servers: Servers, args: argparse.Namespace, workdir: Path) -> list[float]:
    servers.flush_redis()
    os.environ["BENCH_REDIS_URL"] = servers.redis_url
    from bench.bare_actor import bare_stamp  # binds to BENCH_REDIS_URL

    client = redis.Redis.from_url(servers.redis_url)
    env = dict(os.environ, BENCH_REDIS_URL=servers.redis_url)
    pool = Child(pool_argv("bench.bare_actor", ["default"], args), env, workdir / "bare.log")
    latencies: list[float] = []
    try:
        pool.wait_for_line(READY_LINE, count=args.processes, timeout=120)
        for gap in gaps(args):
            time.sleep(gap)
            bare_stamp.send(time.time())
            popped = client.blpop([STAMPS_KEY], timeout=10)
            if popped is None:
                raise TimeoutError("bare: a message was not processed within 10 s")
            latencies.append(float(popped[1]))
    finally:
        pool.stop()
    servers.flush_redis()
    return latencies


async def submit_and_wait(
    args: argparse.Namespace, database_url: str, env: dict[str, str]
) -> tuple[list[float], list[float]]:
    settings = load_settings(env)
    broker = build_broker(settings.redis_url)
    services = build_services(settings, broker, pool_max_size=2)
    await services.open()
    running: list[float] = []
    succeeded: list[float] = []
    try:
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            for gap in gaps(args):
                await asyncio.sleep(gap)
                submission = await submit_job(
                    services.uow, services.sender, NewJob(kind=NOOP, owner_id="bench", payload={})
                )
                deadline = time.monotonic() + 10
                while True:
                    cursor = await conn.execute(
                        "SELECT started_at - created_at, finished_at - created_at FROM jobs "
                        "WHERE id = %s AND status = 'succeeded'",
                        (submission.job.id,),
                    )
                    row = await cursor.fetchone()
                    if row is not None:
                        running.append(row[0].total_seconds())
                        succeeded.append(row[1].total_seconds())
                        break
                    if time.monotonic() > deadline:
                        raise TimeoutError("healthplat: a job did not succeed within 10 s")
                    await asyncio.sleep(0.002)
    finally:
        await services.close()
        broker.close()
    return running, succeeded


def run_platform(
    servers: Servers, args: argparse.Namespace, workdir: Path
) -> tuple[list[float], list[float]]:
    with fresh_database(servers.admin_database_url) as database_url:
        servers.flush_redis()
        env = app_env(database_url, servers.redis_url, workdir / "data", LOG_LEVEL="WARNING")
        pool = Child(pool_argv("workers.app", PROCFILE_QUEUES, args), env, workdir / "pool.log")
        try:
            pool.wait_for_line(READY_LINE, count=args.processes, timeout=120)
            time.sleep(2.0)  # every consumer past its first fetches, into its idle wait
            result = asyncio.run(submit_and_wait(args, database_url, env))
        finally:
            pool.stop()
        servers.flush_redis()
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.idle_latency", description=__doc__)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--gap", default="0.2-1.0", help="seconds idle before each job, LOW-HIGH")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    return parser


@dataclass
class Measured:
    """What one run measured: the three latency summaries (bare, running, succeeded)."""

    rows: list[dict[str, float | str]]
    postgres_label: str
    redis_label: str
    load_before: float
    load_after: float


def measure(args: argparse.Namespace) -> Measured:
    with contextlib.ExitStack() as stack:
        servers = Servers(stack)
        workdir = Path(tempfile.mkdtemp(prefix="hp-bench-idle-"))
        note(f"PostgreSQL: {servers.postgres_label}; Redis: {servers.redis_label}")
        load_before = os.getloadavg()[0]
        note(f"bare Dramatiq: {args.samples} messages, one at a time")
        bare = run_bare(servers, args, workdir)
        note(f"healthplat: {args.samples} jobs, one at a time")
        running, succeeded = run_platform(servers, args, workdir)
        load_after = os.getloadavg()[0]
        shutil.rmtree(workdir, ignore_errors=True)
    rows = [
        latency_summary("bare Dramatiq: send -> actor starts", bare),
        latency_summary("healthplat: submit -> running", running),
        latency_summary("healthplat: submit -> succeeded", succeeded),
    ]
    return Measured(rows, servers.postgres_label, servers.redis_label, load_before, load_after)


def figures(quick: bool = False) -> dict[str, object]:
    """For ``python -m bench``: submit -> running p50 and p99 on an idle pool, against bare
    Dramatiq's send -> actor starts in the same run; submit -> succeeded beside them."""
    args = _parser().parse_args(["--samples", "30"] if quick else [])
    measured = measure(args)
    bare, running, succeeded = measured.rows
    rows = []
    for key, label, limit in (("p50_ms", "p50", 10.0), ("p99_ms", "p99", 50.0)):
        value, baseline = float(running[key]), float(bare[key])
        rows.append(
            figure(
                f"submit -> running {label}",
                value,
                "ms",
                baseline=baseline,
                baseline_name=f"bare Dramatiq send -> actor starts {label}",
                ratio=value / baseline if baseline else None,
                target=f"{label} < {limit:g} ms",
                met=value < limit,
            )
        )
    for key, label in (("p50_ms", "p50"), ("p99_ms", "p99")):
        rows.append(figure(f"submit -> succeeded {label}", float(succeeded[key]), "ms"))
    return {"rows": rows, "samples": args.samples, "latencies": measured.rows}


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not 1 <= args.samples <= 10_000:
        parser.error("--samples must be between 1 and 10,000")
    measured = measure(args)
    rows = measured.rows
    load_before, load_after = measured.load_before, measured.load_after

    print(
        f"idle latency: {args.samples} jobs one at a time, {args.gap} s idle before each, pool "
        f"--processes {args.processes} --threads {args.threads}, {os.cpu_count()} CPUs"
    )
    print(f"servers: {measured.postgres_label}; {measured.redis_label}")
    print(f"load average (1 min) before / after: {load_before:.2f} / {load_after:.2f}")
    print()
    print(
        table(
            ["path", "samples", "p50 ms", "p99 ms", "max ms"],
            [
                [
                    r["name"],
                    r["samples"],
                    f"{r['p50_ms']:.1f}",
                    f"{r['p99_ms']:.1f}",
                    f"{r['max_ms']:.1f}",
                ]
                for r in rows
            ],
        )
    )
    print()
    target = rows[1]
    meets = float(target["p50_ms"]) < 10 and float(target["p99_ms"]) < 50
    print(
        f"submit -> running: p50 {float(target['p50_ms']):.1f} ms, p99 "
        f"{float(target['p99_ms']):.1f} ms ({'meets' if meets else 'BELOW'} the target: "
        "p50 < 10 ms, p99 < 50 ms)"
    )
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {
                    "bench": "idle_latency",
                    "date": datetime.now(UTC).isoformat(timespec="seconds"),
                    "cpus": os.cpu_count(),
                    "samples": args.samples,
                    "gap": args.gap,
                    "load_before": load_before,
                    "load_after": load_after,
                    "rows": rows,
                },
                indent=2,
            )
            + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
