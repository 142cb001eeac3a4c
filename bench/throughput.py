"""End-to-end durable throughput, against bare Dramatiq measured in the same run.

    .venv/bin/python -m bench.throughput [--jobs 20000] [--processes 2] [--threads 8]

What is measured, identically for both runs: all N messages are enqueued
while no worker runs (that enqueue is timed and reported too); then the
worker pool is started and the clock runs from the moment its first worker
process logs "ready for action" until the last job is done. jobs/s is N
divided by that time.

* healthplat: N ``system.noop`` jobs submitted through ``domain.jobs.submit.submit_job``
  on ``build_services`` (the API's enqueue path: job row committed, then the
  message sent), processed by ``dramatiq workers.app`` with every state
  transition (queued -> running -> succeeded, each a guarded UPDATE that the
  job_events trigger records). Done = every message acked (the queue's message
  hash in Redis is empty, polled as for bare Dramatiq) and a COUNT then sees N
  rows ``succeeded``.
  The scheduler (relay) is not running.
* bare: N messages to a no-op ``@dramatiq.actor`` on a plain RedisBroker
  (bench/bare_actor.py), same Redis, same pool flags. Done = the queue's
  message hash is empty, i.e. every message processed and acked.

A fresh database is created and migrated for the run and dropped after it;
the Redis database number (BENCH_REDIS_DB, default 15) is flushed before
each run and after. Bounded: each phase has a timeout (--timeout).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
import redis

from bench._support import Child, Servers, app_env, fresh_database, note, table
from domain.adapters.bootstrap import build_services
from domain.adapters.jobs.messaging import build_broker
from domain.jobs.model import NewJob
from domain.jobs.submit import submit_job
from domain.jobs.system import NOOP
from domain.settings import Settings, load_settings

READY_LINE = "Worker process is ready for action."
POLL_SECONDS = 0.02


@dataclass
class Result:
    name: str
    enqueue_seconds: float
    process_seconds: float
    jobs: int

    @property
    def enqueued_per_second(self) -> float:
        return self.jobs / self.enqueue_seconds

    @property
    def processed_per_second(self) -> float:
        return self.jobs / self.process_seconds


def dramatiq_argv(module: str, args: argparse.Namespace) -> list[str]:
    executable = str(Path(sys.executable).parent / "dramatiq")
    return [
        executable,
        module,
        "--processes",
        str(args.processes),
        "--threads",
        str(args.threads),
        "--queues",
        NOOP.queue,
    ]


def wait_until(done: Callable[[], bool], timeout: float, what: str) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if done():
            return time.monotonic()
        time.sleep(POLL_SECONDS)
    raise TimeoutError(f"{what} not done within {timeout}s")


def timed_pool(pool: Child, done: Callable[[], bool], args: argparse.Namespace, what: str) -> float:
    def done_or_dead() -> bool:
        if pool.process.poll() is not None:
            raise RuntimeError(f"the worker pool exited early; see {pool.log_path}")
        return done()

    try:
        started = pool.wait_for_line(READY_LINE, timeout=120)
        finished = wait_until(done_or_dead, args.timeout, what)
    finally:
        pool.stop()
    return finished - started


# --- bare Dramatiq -----------------------------------------------------------


def run_bare(servers: Servers, args: argparse.Namespace, workdir: Path) -> Result:
    servers.flush_redis()
    os.environ["BENCH_REDIS_URL"] = servers.redis_url
    from bench.bare_actor import QUEUE, bare_noop, broker  # binds to BENCH_REDIS_URL

    started = time.perf_counter()
    for _ in range(args.jobs):
        bare_noop.send()
    enqueue = time.perf_counter() - started

    client = redis.Redis.from_url(servers.redis_url)
    pending_key = f"dramatiq:{QUEUE}.msgs"  # a message leaves this hash when it is acked
    if client.hlen(pending_key) != args.jobs:
        raise RuntimeError("bare: not every message reached Redis")
    env = dict(os.environ, BENCH_REDIS_URL=servers.redis_url)
    pool = Child(dramatiq_argv("bench.bare_actor", args), env, workdir / "bare-pool.log")
    seconds = timed_pool(pool, lambda: client.hlen(pending_key) == 0, args, "bare queue drain")
    dead = client.hlen(f"dramatiq:{QUEUE}.XQ.msgs")
    if dead:
        raise RuntimeError(f"bare: {dead} messages were dead-lettered")
    broker.close()
    servers.flush_redis()
    return Result("bare Dramatiq, no-op actor", enqueue, seconds, args.jobs)


# --- the platform ------------------------------------------------------------


async def submit_all(settings: Settings, jobs: int, concurrency: int) -> float:
    """Submit ``jobs`` no-op jobs from ``concurrency`` tasks, as concurrent API requests would."""
    broker = build_broker(settings.redis_url)
    services = build_services(settings, broker, pool_max_size=concurrency)
    await services.open()
    try:
        remaining = iter(range(jobs))

        async def submitter() -> None:
            for _ in remaining:
                await submit_job(
                    services.uow,
                    services.sender,
                    NewJob(kind=NOOP, owner_id="bench", payload={}),
                )

        started = time.perf_counter()
        await asyncio.gather(*(submitter() for _ in range(concurrency)))
        return time.perf_counter() - started
    finally:
        await services.close()
        broker.close()


def status_counts(conn: psycopg.Connection) -> dict[str, int]:
    rows = conn.execute("SELECT status, count(*) FROM jobs GROUP BY status").fetchall()
    return {status: count for status, count in rows}


def run_platform(servers: Servers, args: argparse.Namespace, workdir: Path) -> tuple[Result, str]:
    with fresh_database(servers.admin_database_url) as database_url:
        servers.flush_redis()
        data_dir = workdir / "data"
        env = app_env(database_url, servers.redis_url, data_dir, LOG_LEVEL=args.log_level)
        settings = load_settings(env)  # the submitter and the pool read the same settings
        enqueue = asyncio.run(submit_all(settings, args.jobs, args.submit_concurrency))
        with psycopg.connect(database_url, autocommit=True) as conn:
            counts = status_counts(conn)
            if counts.get("queued") != args.jobs:
                raise RuntimeError(f"platform: expected {args.jobs} queued jobs, found {counts}")

            client = redis.Redis.from_url(servers.redis_url)
            pending_key = f"dramatiq:{NOOP.queue}.msgs"

            def all_succeeded() -> bool:
                # The same cheap test as bare Dramatiq's first (every message acked, which a
                # worker does only after the job's success is committed), then the rows: a
                # COUNT over the job table every 20 ms would tax the database being measured.
                if client.hlen(pending_key):
                    return False
                row = conn.execute(
                    "SELECT count(*) FROM jobs WHERE status = 'succeeded'"
                ).fetchone()
                return bool(row and row[0] >= args.jobs)

            pool = Child(dramatiq_argv("workers.app", args), env, workdir / "platform-pool.log")
            seconds = timed_pool(pool, all_succeeded, args, "platform jobs")
            counts = status_counts(conn)
            events = conn.execute("SELECT count(*) FROM job_events").fetchone()
            checks = (
                f"{counts.get('succeeded', 0)} succeeded, {counts.get('failed', 0)} failed; "
                f"{events[0] if events else 0} job_events rows "
                f"({(events[0] if events else 0) / args.jobs:.1f} per job)"
            )
        servers.flush_redis()
    return Result("healthplat, system.noop, durable", enqueue, seconds, args.jobs), checks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.throughput", description=__doc__)
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument(
        "--submit-concurrency", type=int, default=16, help="concurrent submitters (default 16)"
    )
    parser.add_argument("--log-level", default="INFO", help="the platform workers' LOG_LEVEL")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per phase")
    args = parser.parse_args(argv)
    if not 1 <= args.jobs <= 1_000_000:
        parser.error("--jobs must be between 1 and 1,000,000")

    with contextlib.ExitStack() as stack:
        servers = Servers(stack)
        workdir = Path(tempfile.mkdtemp(prefix="hp-bench-"))
        note(f"PostgreSQL: {servers.postgres_label}; Redis: {servers.redis_label}")
        note(f"logs in {workdir} (removed after a successful run)")
        note(f"bare Dramatiq: enqueueing {args.jobs} messages, then starting the pool")
        bare = run_bare(servers, args, workdir)
        note(f"healthplat: submitting {args.jobs} jobs, then starting the pool")
        platform, checks = run_platform(servers, args, workdir)
        shutil.rmtree(workdir, ignore_errors=True)

    pool = f"--processes {args.processes} --threads {args.threads} --queues {NOOP.queue}"
    print(f"throughput: {args.jobs} no-op jobs, pool `dramatiq ... {pool}`, {os.cpu_count()} CPUs")
    print(f"servers: {servers.postgres_label}; {servers.redis_label}")
    print(
        "processed jobs/s = jobs / (first worker process 'ready for action' -> last job done), "
        "all jobs enqueued before the pool starts"
    )
    print(
        f"healthplat enqueue = submit_job from {args.submit_concurrency} concurrent tasks "
        "(row committed, then message sent); bare enqueue = actor.send() in a loop"
    )
    print()
    rows = [
        [
            r.name,
            f"{r.enqueue_seconds:.2f}",
            f"{r.enqueued_per_second:,.0f}",
            f"{r.process_seconds:.2f}",
            f"{r.processed_per_second:,.0f}",
        ]
        for r in (bare, platform)
    ]
    print(table(["run", "enqueue s", "enqueued/s", "process s", "processed jobs/s"], rows))
    print()
    ratio = platform.processed_per_second / bare.processed_per_second
    enqueue_ratio = platform.enqueued_per_second / bare.enqueued_per_second
    verdict = "meets" if ratio >= 0.5 else "BELOW"
    print(f"ratio healthplat/bare, processed jobs/s: {ratio:.2f} ({verdict} the 0.5 target)")
    print(f"ratio healthplat/bare, enqueued/s: {enqueue_ratio:.2f}")
    print(f"checks: {checks}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
