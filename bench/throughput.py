"""End-to-end durable throughput, against bare Dramatiq measured in the same run.

    .venv/bin/python -m bench.throughput [--jobs 10000] [--pairs 5] [--cpu-hog N]
                                         [--processes 2] [--threads 8] [--json PATH]

What is measured, identically for both runs: all N messages are enqueued
while no worker runs (that enqueue is timed and reported too); then the
worker pool is started and the clock runs from the moment its first worker
process logs "ready for action" until the last job is done. jobs/s is N
divided by that time. The machine is shared and noisy, so the two runs
alternate (bare, healthplat, bare, healthplat ...) for ``--pairs`` pairs, and
the figure is the median of the pairs' ratios. ``--cpu-hog N`` keeps N
busy-loop processes running beside both sides of every pair.

* healthplat: N ``system.noop`` jobs submitted through ``domain.jobs.submit.submit_job``
  on ``build_services`` (job row committed, then the message sent; on uvloop, as the
  API's processes run it). A no-op job has no rows of its own, so its row is one
  INSERT sent without a transaction; a command that writes rows with its job (an
  e-mail, a record) adds BEGIN and COMMIT round trips, which this bench does not
  measure (bench.api_latency does). Processed by
  ``dramatiq workers.app`` with every state transition (queued -> running ->
  succeeded, each a guarded UPDATE that the job_events trigger records). Done =
  every message acked (the queue's message hash in Redis is empty, polled as for
  bare Dramatiq) and a COUNT then sees N rows ``succeeded``.
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
import dataclasses
import functools
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import redis
import uvloop

from bench._support import (
    Child,
    Servers,
    app_env,
    database_backends,
    figure,
    fresh_database,
    note,
    table,
)
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
    # CPU seconds spent, counted by the kernel (so not inflated by a busy machine):
    enqueue_cpu: float = 0.0  # the submitting process (this one), while enqueueing
    pool_cpu: float = 0.0  # the worker pool's processes, from all ready to done
    postgres_cpu: float = 0.0  # the pool's PostgreSQL backends, the same span
    redis_cpu: float = 0.0  # the Redis server, while the pool ran

    def per_job_ms(self, seconds: float) -> float:
        return seconds * 1000 / self.jobs

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


def redis_cpu(client: redis.Redis) -> float:
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def process_cpu(pid: int) -> float:
    """CPU seconds of a running process, from /proc (any user's process may be read)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it, from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(parents.get(current, []))
    return found


def tree_cpu(pid: int) -> float:
    return sum(process_cpu(p) for p in descendants(pid))


@dataclass
class PoolRun:
    seconds: float
    pool_cpu: float
    postgres_cpu: float
    redis_cpu: float


def timed_pool(
    pool_argv: list[str],
    env: dict[str, str],
    log_path: Path,
    done: Callable[[], bool],
    args: argparse.Namespace,
    what: str,
    client: redis.Redis,
    backends: Callable[[], list[int]] = list,
) -> PoolRun:
    redis_before = redis_cpu(client)
    pool = Child(pool_argv, env, log_path)

    def done_or_dead() -> bool:
        if pool.process.poll() is not None:
            raise RuntimeError(f"the worker pool exited early; see {pool.log_path}")
        return done()

    try:
        started = pool.wait_for_line(READY_LINE, timeout=120)
        # The pool's CPU is counted from when every process is ready, so that booting
        # (imports, connections) is left out; a few jobs done by the first process
        # while another still boots are left out with it (both sides alike).
        pool.wait_for_line(READY_LINE, count=args.processes, timeout=120)
        booted_cpu = tree_cpu(pool.process.pid)
        postgres_booted = sum(process_cpu(pid) for pid in backends())
        finished = wait_until(done_or_dead, args.timeout, what)
        pool_cpu = tree_cpu(pool.process.pid) - booted_cpu
        postgres = sum(process_cpu(pid) for pid in backends()) - postgres_booted
        redis_used = redis_cpu(client) - redis_before
    finally:
        pool.stop()
    return PoolRun(finished - started, pool_cpu, postgres, redis_used)


# --- bare Dramatiq -----------------------------------------------------------


def run_bare(servers: Servers, args: argparse.Namespace, workdir: Path) -> Result:
    servers.flush_redis()
    os.environ["BENCH_REDIS_URL"] = servers.redis_url
    from bench.bare_actor import QUEUE, bare_noop  # binds to BENCH_REDIS_URL

    started = time.perf_counter()
    cpu_started = time.process_time()
    for _ in range(args.jobs):
        bare_noop.send()
    enqueue = time.perf_counter() - started
    enqueue_cpu = time.process_time() - cpu_started

    client = redis.Redis.from_url(servers.redis_url)
    pending_key = f"dramatiq:{QUEUE}.msgs"  # a message leaves this hash when it is acked
    if client.hlen(pending_key) != args.jobs:
        raise RuntimeError("bare: not every message reached Redis")
    env = dict(os.environ, BENCH_REDIS_URL=servers.redis_url)
    run = timed_pool(
        dramatiq_argv("bench.bare_actor", args),
        env,
        workdir / "bare-pool.log",
        lambda: client.hlen(pending_key) == 0,
        args,
        "bare queue drain",
        client,
    )
    dead = client.hlen(f"dramatiq:{QUEUE}.XQ.msgs")
    if dead:
        raise RuntimeError(f"bare: {dead} messages were dead-lettered")
    servers.flush_redis()
    return Result(
        "bare Dramatiq, no-op actor",
        enqueue,
        run.seconds,
        args.jobs,
        enqueue_cpu,
        run.pool_cpu,
        run.postgres_cpu,
        run.redis_cpu,
    )


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
        cpu_started = time.process_time()
        enqueue = uvloop.run(submit_all(settings, args.jobs, args.submit_concurrency))
        enqueue_cpu = time.process_time() - cpu_started
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

            run = timed_pool(
                dramatiq_argv("workers.app", args),
                env,
                workdir / "platform-pool.log",
                all_succeeded,
                args,
                "platform jobs",
                client,
                functools.partial(database_backends, conn),
            )
            counts = status_counts(conn)
            events = conn.execute("SELECT count(*) FROM job_events").fetchone()
            checks = (
                f"{counts.get('succeeded', 0)} succeeded, {counts.get('failed', 0)} failed; "
                f"{events[0] if events else 0} job_events rows "
                f"({(events[0] if events else 0) / args.jobs:.1f} per job)"
            )
        servers.flush_redis()
    result = Result(
        "healthplat, system.noop, durable",
        enqueue,
        run.seconds,
        args.jobs,
        enqueue_cpu,
        run.pool_cpu,
        run.postgres_cpu,
        run.redis_cpu,
    )
    return result, checks


def median(values: list[float]) -> float:
    return statistics.median(values)


@contextlib.contextmanager
def cpu_hogs(count: int, workdir: Path) -> Iterator[None]:
    """``count`` busy-loop processes running for the whole block (both sides of every pair)."""
    hogs = [
        Child([sys.executable, "-c", "while True: pass"], dict(os.environ), workdir / f"hog{i}.log")
        for i in range(count)
    ]
    try:
        yield
    finally:
        for hog in hogs:
            hog.stop(timeout=5)


def run_pairs(
    servers: Servers, args: argparse.Namespace, workdir: Path
) -> tuple[list[tuple[Result, Result]], list[str]]:
    """``args.pairs`` interleaved pairs: bare, platform, bare, platform ..."""
    pairs: list[tuple[Result, Result]] = []
    checks: list[str] = []
    for number in range(1, args.pairs + 1):
        note(f"pair {number}/{args.pairs}: bare Dramatiq, {args.jobs} messages")
        bare = run_bare(servers, args, workdir)
        note(f"pair {number}/{args.pairs}: healthplat, {args.jobs} jobs")
        platform, check = run_platform(servers, args, workdir)
        note(
            f"pair {number}: processed {platform.processed_per_second:,.0f} / "
            f"{bare.processed_per_second:,.0f} = "
            f"{platform.processed_per_second / bare.processed_per_second:.2f}; enqueued "
            f"{platform.enqueued_per_second:,.0f} / {bare.enqueued_per_second:,.0f} = "
            f"{platform.enqueued_per_second / bare.enqueued_per_second:.2f}"
        )
        pairs.append((bare, platform))
        checks.append(check)
    return pairs, checks


def summary(pairs: list[tuple[Result, Result]]) -> dict[str, float]:
    processed = [p.processed_per_second / b.processed_per_second for b, p in pairs]
    enqueued = [p.enqueued_per_second / b.enqueued_per_second for b, p in pairs]
    return {
        "bare_processed_per_second": median([b.processed_per_second for b, _ in pairs]),
        "platform_processed_per_second": median([p.processed_per_second for _, p in pairs]),
        "bare_enqueued_per_second": median([b.enqueued_per_second for b, _ in pairs]),
        "platform_enqueued_per_second": median([p.enqueued_per_second for _, p in pairs]),
        "processed_ratio": median(processed),
        "processed_ratio_min": min(processed),
        "processed_ratio_max": max(processed),
        "enqueue_ratio": median(enqueued),
        "enqueue_ratio_min": min(enqueued),
        "enqueue_ratio_max": max(enqueued),
    }


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.throughput", description=__doc__)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--pairs", type=int, default=5, help="interleaved pairs (default 5)")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument(
        "--cpu-hog",
        type=int,
        default=0,
        metavar="N",
        help="N busy-loop processes running beside both sides of every pair (default 0)",
    )
    parser.add_argument(
        "--submit-concurrency", type=int, default=16, help="concurrent submitters (default 16)"
    )
    parser.add_argument("--log-level", default="WARNING", help="the platform workers' LOG_LEVEL")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per phase")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    return parser


@dataclass
class Measured:
    """What one run of the bench measured (``main`` prints it, ``figures`` tabulates it)."""

    pairs: list[tuple[Result, Result]]
    checks: list[str]
    postgres_label: str
    redis_label: str
    load_before: float
    load_after: float


def measure(args: argparse.Namespace) -> Measured:
    with contextlib.ExitStack() as stack:
        servers = Servers(stack)
        workdir = Path(tempfile.mkdtemp(prefix="hp-bench-"))
        note(f"PostgreSQL: {servers.postgres_label}; Redis: {servers.redis_label}")
        note(f"logs in {workdir} (removed after a successful run)")
        load_before = os.getloadavg()[0]
        with cpu_hogs(args.cpu_hog, workdir):
            pairs, checks = run_pairs(servers, args, workdir)
        load_after = os.getloadavg()[0]
        shutil.rmtree(workdir, ignore_errors=True)
    return Measured(
        pairs, checks, servers.postgres_label, servers.redis_label, load_before, load_after
    )


def _ratio_figures(measured: Measured, label: str, processed_target: float) -> list[dict]:
    summed = summary(measured.pairs)
    processed = summed["processed_ratio"]
    enqueued = summed["enqueue_ratio"]
    pairs = f"bare Dramatiq, median of {len(measured.pairs)} pairs"
    return [
        figure(
            f"processed{label}",
            summed["platform_processed_per_second"],
            "jobs/s",
            baseline=summed["bare_processed_per_second"],
            baseline_name=pairs,
            ratio=processed,
            target=f"ratio >= {processed_target}",
            met=processed >= processed_target,
        ),
        figure(
            f"enqueued{label}",
            summed["platform_enqueued_per_second"],
            "jobs/s",
            baseline=summed["bare_enqueued_per_second"],
            baseline_name=pairs,
            ratio=enqueued,
            target="ratio >= 0.5",
            met=enqueued >= 0.5,
        ),
    ]


def figures(quick: bool = False) -> dict[str, object]:
    """For ``python -m bench``: processed and enqueued jobs/s against bare Dramatiq (median
    ratio of interleaved pairs); the full size runs again with a CPU hog per core."""
    argv = ["--jobs", "2000", "--pairs", "3"] if quick else []
    args = _parser().parse_args(argv)
    measured = measure(args)
    rows = _ratio_figures(measured, "", 0.7)
    result: dict[str, object] = {"jobs": args.jobs, "pairs": args.pairs, **summary(measured.pairs)}
    if not quick:
        hogs = os.cpu_count() or 2
        hogged = measure(_parser().parse_args(["--cpu-hog", str(hogs)]))
        rows += _ratio_figures(hogged, f", {hogs} CPU hogs beside", 0.5)
        result["with_cpu_hogs"] = {"hogs": hogs, **summary(hogged.pairs)}
    return {"rows": rows, **result}


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not 1 <= args.jobs <= 1_000_000:
        parser.error("--jobs must be between 1 and 1,000,000")
    if not 1 <= args.pairs <= 50:
        parser.error("--pairs must be between 1 and 50")
    measured = measure(args)
    pairs, checks = measured.pairs, measured.checks
    load_before, load_after = measured.load_before, measured.load_after

    pool = f"--processes {args.processes} --threads {args.threads} --queues {NOOP.queue}"
    hog = f", {args.cpu_hog} CPU-bound process(es) beside both" if args.cpu_hog else ""
    print(
        f"throughput: {args.jobs} no-op jobs, pool `dramatiq ... {pool}`, {os.cpu_count()} CPUs"
        f"{hog}; {args.pairs} interleaved pairs (bare, healthplat, bare, ...)"
    )
    print(f"servers: {measured.postgres_label}; {measured.redis_label}")
    print(f"load average (1 min) before / after: {load_before:.2f} / {load_after:.2f}")
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
            str(number),
            f"{bare.enqueued_per_second:,.0f}",
            f"{platform.enqueued_per_second:,.0f}",
            f"{platform.enqueued_per_second / bare.enqueued_per_second:.2f}",
            f"{bare.processed_per_second:,.0f}",
            f"{platform.processed_per_second:,.0f}",
            f"{platform.processed_per_second / bare.processed_per_second:.2f}",
        ]
        for number, (bare, platform) in enumerate(pairs, 1)
    ]
    figures = summary(pairs)
    rows.append(
        [
            "median",
            f"{figures['bare_enqueued_per_second']:,.0f}",
            f"{figures['platform_enqueued_per_second']:,.0f}",
            f"{figures['enqueue_ratio']:.2f}",
            f"{figures['bare_processed_per_second']:,.0f}",
            f"{figures['platform_processed_per_second']:,.0f}",
            f"{figures['processed_ratio']:.2f}",
        ]
    )
    headers = [
        "pair",
        "bare enqueued/s",
        "healthplat enqueued/s",
        "ratio",
        "bare jobs/s",
        "healthplat jobs/s",
        "ratio",
    ]
    print(table(headers, rows))
    print()
    target = 0.5 if args.cpu_hog else 0.7
    ratio = figures["processed_ratio"]
    verdict = "meets" if ratio >= target else "BELOW"
    print(
        f"median ratio healthplat/bare, processed jobs/s: {ratio:.2f} "
        f"({figures['processed_ratio_min']:.2f}-{figures['processed_ratio_max']:.2f}; "
        f"{verdict} the {target} target)"
    )
    enqueue_ratio = figures["enqueue_ratio"]
    print(
        f"median ratio healthplat/bare, enqueued/s: {enqueue_ratio:.2f} "
        f"({figures['enqueue_ratio_min']:.2f}-{figures['enqueue_ratio_max']:.2f}; "
        f"{'meets' if enqueue_ratio >= 0.5 else 'BELOW'} the 0.5 target)"
    )
    print()
    print("CPU ms per job (kernel counts, medians over the pairs; not inflated by load):")
    cpu_rows = []
    for side, name in ((0, "bare Dramatiq"), (1, "healthplat")):
        runs = [pair[side] for pair in pairs]
        cells = [
            median([r.per_job_ms(getattr(r, field)) for r in runs])
            for field in ("enqueue_cpu", "pool_cpu", "postgres_cpu", "redis_cpu")
        ]
        cpu_rows.append([name, *(f"{c:.3f}" for c in cells), f"{sum(cells[1:]):.3f}"])
    print(
        table(
            [
                "run",
                "enqueue (submitter)",
                "worker pool",
                "PostgreSQL backends",
                "Redis",
                "processing total",
            ],
            cpu_rows,
        )
    )
    print()
    for number, check in enumerate(checks, 1):
        print(f"checks, pair {number}: {check}")
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {
                    "bench": "throughput",
                    "date": datetime.now(UTC).isoformat(timespec="seconds"),
                    "cpus": os.cpu_count(),
                    "jobs": args.jobs,
                    "pairs": args.pairs,
                    "processes": args.processes,
                    "threads": args.threads,
                    "cpu_hogs": args.cpu_hog,
                    "load_before": load_before,
                    "load_after": load_after,
                    **figures,
                    "runs": [
                        {
                            "bare": dataclasses.asdict(bare),
                            "platform": dataclasses.asdict(platform),
                        }
                        for bare, platform in pairs
                    ],
                },
                indent=2,
            )
            + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
