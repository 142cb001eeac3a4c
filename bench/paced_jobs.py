"""What a job costs at a moderate, steady rate: CPU per job of the worker pool, against bare
Dramatiq's at the same rate.

    .venv/bin/python -m bench.paced_jobs [--rate 100] [--seconds 20] [--pairs 3] [--processes 2]

bench.throughput measures a pool draining a full queue, where every fetch brings a batch
and every statement carries many jobs. Most of the day a platform runs well below that:
jobs arrive one by one, and what a job costs then is mostly what each arrival sets moving
(the consumers woken, their fetches, the claim and the outcome statements, the ack). Here
``--rate`` no-op jobs a second are sent for ``--seconds`` on a fixed schedule to an idle
pool (``--processes 2 --threads 8 --queues default``, as bench.throughput; ``--processes``
sets the first): bare Dramatiq's
no-op actor (``actor.send()``) and the platform's ``system.noop`` (``submit_job``, one
INSERT without a transaction, then the message), in ``--pairs`` interleaved pairs. Per job:
the pool's CPU (kernel counts of its processes, from the first send until every job is
done), PostgreSQL's backends' CPU (the submitter's included), and the fetches made of the
queue (Redis' own count of LPOP calls, from its command statistics: Dramatiq's fetch script
makes one each time, whether it finds a message or not) beside every call of Dramatiq's
scripts (fetches, enqueues, acks).
CPU per job follows the machine's load less than jobs/s do: the figure to compare changes
by. The ratio is the median of the pairs' (bare CPU per job / the platform's pool CPU per
job); there is no issue target for it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import redis
import uvloop

from bench._support import (
    Child,
    Servers,
    app_env,
    cpu_seconds,
    database_cpu_seconds,
    figure,
    fresh_database,
    median,
    note,
    process_tree,
    table,
)
from domain.adapters.bootstrap import build_services
from domain.adapters.jobs.messaging import build_broker
from domain.jobs.model import NewJob
from domain.jobs.submit import submit_job
from domain.jobs.system import NOOP
from domain.settings import load_settings


def pool_args(processes: int) -> list[str]:
    """The worker pool's command-line options, on both sides."""
    return ["--processes", str(processes), "--threads", "8", "--queues", "default"]


BOOT_SECONDS = 8.0  # a pool's processes ready, its consumers subscribed
FETCH_SCRIPT_CALLS = "cmdstat_evalsha"  # Dramatiq's dispatch script: fetches, acks, enqueues


def _schedule(rate: float, seconds: float) -> list[float]:
    return [i / rate for i in range(int(rate * seconds))]


def _redis_calls(client: redis.Redis) -> dict[str, int]:
    stats = client.info("commandstats")
    return {name: int(values["calls"]) for name, values in stats.items()}


class Side:
    """One side's run: its pool's CPU, its database's, Redis' calls, per job."""

    def __init__(self, name: str, jobs: int, pool: float, database: float, calls: dict) -> None:
        self.name = name
        self.pool_ms = 1000 * pool / jobs
        self.database_ms = 1000 * database / jobs
        self.fetches = calls.get("cmdstat_lpop", 0) / jobs
        self.script_calls = calls.get(FETCH_SCRIPT_CALLS, 0) / jobs


def _delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {name: after[name] - before.get(name, 0) for name in after}


def _wait_done(done, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError("the pool did not finish the jobs")
        time.sleep(0.05)


def _start_pool(module: str, pool_argv: list[str], env: dict[str, str], log: Path) -> Child:
    """``dramatiq <module>`` with the pool's options, logging to ``log``."""
    return Child([sys.executable, "-m", "dramatiq", module, *pool_argv], env, log)


def run_bare(servers: Servers, rate: float, seconds: float, workdir: Path, pool_argv) -> Side:
    os.environ["BENCH_REDIS_URL"] = servers.redis_url  # what bench.bare_actor binds to
    env = dict(os.environ)
    client = redis.Redis.from_url(servers.redis_url)
    servers.flush_redis()
    pool = _start_pool("bench.bare_actor", pool_argv, env, workdir / "bare.log")
    try:
        time.sleep(BOOT_SECONDS)
        from bench.bare_actor import QUEUE, bare_noop  # binds to BENCH_REDIS_URL

        schedule = _schedule(rate, seconds)
        calls, cpu = _redis_calls(client), cpu_seconds(process_tree(pool.process.pid))
        started = time.perf_counter()
        for due in schedule:
            if (wait := started + due - time.perf_counter()) > 0:
                time.sleep(wait)
            bare_noop.send()
        _wait_done(lambda: not client.hlen(f"dramatiq:{QUEUE}.msgs"))
        spent = cpu_seconds(process_tree(pool.process.pid)) - cpu
        return Side("bare Dramatiq", len(schedule), spent, 0.0, _delta(calls, _redis_calls(client)))
    finally:
        pool.stop()


async def _paced_submits(settings, schedule: list[float]) -> None:
    broker = build_broker(settings.redis_url)
    services = build_services(settings, broker, pool_max_size=4)
    await services.open()
    try:
        started = time.perf_counter()
        for due in schedule:
            if (wait := started + due - time.perf_counter()) > 0:
                await asyncio.sleep(wait)
            await submit_job(
                services.uow, services.sender, NewJob(kind=NOOP, owner_id="bench", payload={})
            )
    finally:
        await services.close()
        broker.close()


def run_platform(servers: Servers, rate: float, seconds: float, workdir: Path, pool_argv) -> Side:
    client = redis.Redis.from_url(servers.redis_url)
    with fresh_database(servers.admin_database_url) as database_url:
        servers.flush_redis()
        env = app_env(database_url, servers.redis_url, workdir / "data", LOG_LEVEL="WARNING")
        pool = _start_pool("workers.app", pool_argv, env, workdir / "platform.log")
        try:
            time.sleep(BOOT_SECONDS)
            schedule = _schedule(rate, seconds)
            calls = _redis_calls(client)
            cpu, database = (
                cpu_seconds(process_tree(pool.process.pid)),
                database_cpu_seconds(database_url),
            )
            uvloop.run(_paced_submits(load_settings(env), schedule))
            with psycopg.connect(database_url, autocommit=True) as conn:

                def done() -> bool:
                    row = conn.execute(
                        "SELECT count(*) FROM jobs WHERE status = 'succeeded'"
                    ).fetchone()
                    return bool(row and row[0] >= len(schedule))

                _wait_done(done)
            spent = cpu_seconds(process_tree(pool.process.pid)) - cpu
            database = database_cpu_seconds(database_url) - database
            return Side(
                "healthplat", len(schedule), spent, database, _delta(calls, _redis_calls(client))
            )
        finally:
            pool.stop()


def measure(rate: float, seconds: float, pairs: int, processes: int) -> list[tuple[Side, Side]]:
    results = []
    pool_argv = pool_args(processes)
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hp-bench-paced-")))
        servers = Servers(stack)
        stack.callback(servers.flush_redis)
        for number in range(1, pairs + 1):
            note(f"pair {number}/{pairs}: bare, then healthplat, {rate:g} jobs/s, {seconds:g} s")
            results.append(
                (
                    run_bare(servers, rate, seconds, workdir, pool_argv),
                    run_platform(servers, rate, seconds, workdir, pool_argv),
                )
            )
    return results


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=100.0, help="jobs a second (100)")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long each side sends (20)")
    parser.add_argument("--pairs", type=int, default=3, help="interleaved pairs (3)")
    parser.add_argument("--processes", type=int, default=2, help="pool processes (2)")
    return parser


def figures(quick: bool = False) -> dict[str, object]:
    """For ``python -m bench``: the pool's CPU per job at a paced rate, against bare Dramatiq's."""
    args = _parser().parse_args(["--seconds", "8", "--pairs", "1"] if quick else [])
    pairs = measure(args.rate, args.seconds, args.pairs, args.processes)
    ratio = median([bare.pool_ms / ours.pool_ms for bare, ours in pairs])
    bare_ms = median([bare.pool_ms for bare, _ in pairs])
    ours_ms = median([ours.pool_ms for _, ours in pairs])
    rows = [
        figure(
            f"worker pool CPU a job at {args.rate:g} jobs/s",
            ours_ms,
            "ms",
            baseline=bare_ms,
            baseline_name=f"bare Dramatiq's, median of {len(pairs)} pairs",
            ratio=ratio,
        )
    ]
    sides = [vars(side) for pair in pairs for side in pair]
    return {"rows": rows, "rate": args.rate, "seconds": args.seconds, "sides": sides}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not 1 <= args.rate <= 2000 or not 1 <= args.seconds <= 600 or not 1 <= args.pairs <= 20:
        _parser().error("--rate 1-2000, --seconds 1-600, --pairs 1-20")
    if not 1 <= args.processes <= 32:
        _parser().error("--processes 1-32")
    pairs = measure(args.rate, args.seconds, args.pairs, args.processes)
    rows = []
    for number, (bare, ours) in enumerate(pairs, 1):
        for side in (bare, ours):
            rows.append(
                [
                    number,
                    side.name,
                    f"{side.pool_ms:.3f}",
                    f"{side.database_ms:.3f}" if side is ours else "-",
                    f"{side.fetches:.2f}",
                    f"{side.script_calls:.2f}",
                ]
            )
    print(
        f"paced jobs: {args.rate:g} no-op jobs/s for {args.seconds:g} s to an idle pool "
        f"({' '.join(pool_args(args.processes))}), {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    headers = [
        "pair",
        "side",
        "pool CPU ms/job",
        "PostgreSQL CPU ms/job",
        "fetches/job",
        "script calls/job",
    ]
    print(table(headers, rows))
    ratio = median([bare.pool_ms / ours.pool_ms for bare, ours in pairs])
    print(f"\nmedian ratio of pool CPU a job, bare / healthplat: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
