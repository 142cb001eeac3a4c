"""Flat cost as the job tables grow: the hot path on empty tables against months of history.

    .venv/bin/python -m bench.job_history [--history 10000000] [--pairs 5] [--jobs 5000]

Two databases are created and migrated side by side. Both get the same live
set (``LIVE_FINISHED`` recent finished jobs spread over ``--owners`` owners,
``LIVE_PENDING`` queued jobs overdue for the relay, ``LIVE_STALE`` running
jobs with a stale heartbeat). The *full* one also gets ``--history`` finished
jobs over the ``--days`` before them, three job_events each (queued, running,
succeeded or failed), written with INSERT ... SELECT FROM generate_series
(secondary indexes dropped during the load and built again afterwards, then
VACUUM ANALYZE: what a table that grew over months looks like, not one that
was just bulk-loaded). Then, in interleaved pairs (empty, full, empty, full
...), each pair measures on both:

* throughput: ``--jobs`` system.noop jobs submitted with ``submit_job`` from
  16 tasks, then run by ``dramatiq workers.app`` (bench.throughput's machinery:
  enqueue timed, then "ready for action" -> last job done);
* the relay's two picks, through ``PgJobStore``: ``due_for_send`` (the
  overdue queued jobs, ``--relay-limit`` of them) and ``recover_stale``; each
  sample runs the real call and then puts the rows back, untimed;
* GET /jobs pages, through ``PgJobStore.page`` (the route's query): an
  owner's first page and a page from the middle of that owner's history, and
  the admin's unfiltered list first page and middle page; ``--limit`` rows;
* a /metrics scrape's job figures (``job_figures``, what the route reads from
  PostgreSQL), the history having been tallied as
  migration 0011 does (``job_tallies_rebuild``: the load ran without triggers).

Each figure is the median of ``--samples`` calls in a pair; the ratio full /
empty is computed per pair and the median ratio printed, with the target
(throughput >= 0.9 of empty, query time <= 1.1 of empty). Databases are
dropped afterwards. ``--prune`` also times, at the end, one daily retention run at
steady state (the history's oldest day dropped), in jobs dropped per second.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import redis
from psycopg.rows import dict_row

from bench._support import Servers, app_env, figure, fresh_database, note, table
from bench.throughput import dramatiq_argv, submit_all, timed_pool
from domain.adapters.job_history.store import PgJobHistory
from domain.adapters.jobs.metrics import DURATION_BOUNDS, job_figures
from domain.adapters.jobs.store import PgJobStore
from domain.adapters.keyset import cursor_after
from domain.adapters.postgres import create_pool, job_from_row
from domain.clock import SystemClock
from domain.job_history.retention import drop_finished_before
from domain.jobs.system import NOOP
from domain.settings import load_settings

LIVE_FINISHED = 50_000
LIVE_PENDING = 1_000
LIVE_STALE = 100
CHUNK = 1_000_000

_JOB_COLUMNS = """id, kind, queue, status, payload, result, error, attempts, max_attempts,
    owner_id, run_after, heartbeat_at, created_at, updated_at, started_at, finished_at"""


# A UUIDv7 of ``at``, as domain.jobs.submit.new_job_id makes them (version bits 0111).
TIME_ORDERED_ID = """encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) placing
    substring(int8send(floor(extract(epoch FROM at) * 1000)::bigint) FROM 3) FROM 1 FOR 6),
    52, 1), 53, 1), 'hex')::uuid"""
RANDOM_ID = "gen_random_uuid()"
ID_SCHEMES = {"time": TIME_ORDERED_ID, "random": RANDOM_ID}


def insert_jobs(
    conn: psycopg.Connection,
    count: int,
    newest: datetime,
    span: timedelta,
    owners: int,
    ids: str = TIME_ORDERED_ID,
) -> None:
    """``count`` finished jobs created evenly over ``span`` up to ``newest``; 2% failed."""
    step = span / max(count, 1)
    for start in range(0, count, CHUNK):
        stop = min(start + CHUNK, count)
        conn.execute(
            f"""
            INSERT INTO jobs ({_JOB_COLUMNS})
            SELECT {ids}, CASE WHEN g %% 3 = 0 THEN 'email.send' ELSE 'system.noop' END,
                   'default', CASE WHEN g %% 50 = 0 THEN 'failed' ELSE 'succeeded' END,
                   jsonb_build_object('n', g), '{{"ok": true}}'::jsonb,
                   CASE WHEN g %% 50 = 0
                        THEN '{{"code": "bench", "message": "failed"}}'::jsonb END,
                   1, 2, 'owner-' || (g %% %(owners)s), at, NULL, at, at + interval '1 second',
                   at, at + interval '1 second'
            FROM generate_series(%(start)s::bigint, %(stop)s::bigint - 1) AS g,
                 LATERAL (SELECT %(newest)s::timestamptz - (%(count)s - g) * %(step)s) AS t(at)
            """,
            {
                "owners": owners,
                "start": start,
                "stop": stop,
                "newest": newest,
                "count": count,
                "step": step,
            },
        )


def insert_events(conn: psycopg.Connection, where: str) -> None:
    """The three events the trigger would have written for each finished job."""
    conn.execute(
        f"""
        INSERT INTO job_events (job_id, from_status, to_status, attempt, error, at)
        SELECT j.id, e.from_status, coalesce(e.to_status, j.status), e.attempt,
               CASE WHEN e.to_status IS NULL THEN j.error END,
               j.created_at + e.after
        FROM jobs j CROSS JOIN (VALUES
            (NULL, 'queued', 0, interval '0'),
            ('queued', 'running', 1, interval '0.5 second'),
            ('running', NULL, 1, interval '1 second')
        ) AS e(from_status, to_status, attempt, after)
        WHERE {where}
        """
    )


def secondary_indexes(conn: psycopg.Connection, tables: tuple[str, ...]) -> list[tuple[str, str]]:
    rows = conn.execute(
        """
        SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
        FROM pg_index i
        WHERE i.indrelid::regclass::text = ANY(%s) AND NOT i.indisprimary
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
        """,
        (list(tables),),
    ).fetchall()
    return [(name, definition) for name, definition in rows]


def build_history(url: str, args: argparse.Namespace, newest: datetime) -> float:
    """The months of history, loaded as fast as PostgreSQL takes it; returns seconds spent."""
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '512MB'")
        indexes = secondary_indexes(conn, ("jobs", "job_events"))
        for name, _ in indexes:
            conn.execute(f"DROP INDEX {name}")
        conn.execute("SET session_replication_role = replica")  # no trigger, no FK check
        note(f"full: {args.history:,} history jobs")
        span = timedelta(days=args.days)
        insert_jobs(conn, args.history, newest, span, args.owners, ID_SCHEMES[args.ids])
        note(f"full: {args.history * 3:,} history events")
        insert_events(conn, "TRUE")
        conn.execute("SET session_replication_role = origin")
        note("full: tallying the history (job_tallies_rebuild)")
        conn.execute("SELECT job_tallies_rebuild(%s)", (list(DURATION_BOUNDS),))
        for name, definition in indexes:
            note(f"full: building {name}")
            conn.execute(definition)
        note("full: VACUUM ANALYZE")
        conn.execute("VACUUM ANALYZE jobs")
        conn.execute("VACUUM ANALYZE job_events")
        size = conn.execute(
            "SELECT pg_size_pretty(pg_total_relation_size('jobs')"
            " + pg_total_relation_size('job_events'))"
        ).fetchone()
        note(f"full: jobs + job_events take {size[0] if size else '?'}")
    return time.perf_counter() - started


def add_live_set(url: str, args: argparse.Namespace, now: datetime) -> None:
    """What both databases hold besides history: recent finished jobs, overdue queued jobs
    (the relay's pick) and running jobs whose worker went silent (the sweeper's)."""
    with psycopg.connect(url, autocommit=True) as conn:
        ids = ID_SCHEMES[args.ids]
        newest = now - timedelta(minutes=10)
        insert_jobs(conn, LIVE_FINISHED, newest, timedelta(days=1), args.owners, ids)
        insert_events(conn, "j.created_at > now() - interval '2 days'")
        for status, count in (("queued", LIVE_PENDING), ("running", LIVE_STALE)):
            conn.execute(
                f"""
                INSERT INTO jobs ({_JOB_COLUMNS})
                SELECT {ids}, 'system.noop', 'default', %(status)s, '{{}}'::jsonb,
                       NULL, NULL, (%(status)s = 'running')::int, 3, 'owner-' || g,
                       %(at)s, CASE WHEN %(status)s = 'running' THEN %(at)s END,
                       %(at)s, %(at)s, NULL, NULL
                FROM generate_series(1, %(count)s) AS g,
                     LATERAL (SELECT %(at)s::timestamptz) AS t(at)
                """,
                {"status": status, "count": count, "at": now - timedelta(hours=1)},
            )
        conn.execute("VACUUM ANALYZE jobs")
        conn.execute("VACUUM ANALYZE job_events")


# --- the measures ------------------------------------------------------------


async def median_seconds(call: Callable[[], Awaitable[object]], samples: int) -> float:
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        await call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


async def middle_cursor(store: PgJobStore, url: str, owner: str | None) -> str:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        conn.row_factory = dict_row
        where = "WHERE owner_id = %(owner)s" if owner else ""
        count = await (
            await conn.execute(f"SELECT count(*) AS n FROM jobs {where}", {"owner": owner})
        ).fetchone()
        row = await (
            await conn.execute(
                f"SELECT * FROM jobs {where} ORDER BY created_at DESC, id DESC "
                "OFFSET %(middle)s LIMIT 1",
                {"owner": owner, "middle": count["n"] // 2},
            )
        ).fetchone()
    return cursor_after(job_from_row(row))


async def query_times(url: str, args: argparse.Namespace) -> dict[str, float]:
    pool = create_pool(url, statement_timeout_seconds=60.0, max_size=2)
    await pool.open(wait=True)
    store = PgJobStore(pool, SystemClock())
    owner = "owner-7"
    try:
        owner_middle = await middle_cursor(store, url, owner)
        admin_middle = await middle_cursor(store, url, None)

        async def unsend() -> None:
            async with pool.connection() as conn:
                await conn.execute(
                    "UPDATE jobs SET last_sent_at = NULL WHERE status = 'queued'"
                    " AND last_sent_at IS NOT NULL"
                )

        async def relay_pick() -> None:
            picked = await store.due_for_send(args.grace, args.relay_limit)
            if len(picked) != min(args.relay_limit, LIVE_PENDING):
                raise RuntimeError(f"relay picked {len(picked)} jobs")

        async def relay_pick_and_reset() -> float:
            started = time.perf_counter()
            await relay_pick()
            seconds = time.perf_counter() - started
            await unsend()
            return seconds

        async def sweep_and_reset() -> float:
            started = time.perf_counter()
            recovered = await store.recover_stale(args.stale_after, LIVE_STALE)
            seconds = time.perf_counter() - started
            if len(recovered) != LIVE_STALE:
                raise RuntimeError(f"sweeper recovered {len(recovered)} jobs")
            async with pool.connection() as conn:
                await conn.execute(
                    "UPDATE jobs SET status = 'running', heartbeat_at = now() - interval '1 hour',"
                    " error = NULL, last_sent_at = NULL WHERE id = ANY(%s)",
                    ([job.id for job in recovered],),
                )
            return seconds

        def page(owner_id: str | None, cursor: str | None) -> Callable[[], Awaitable[object]]:
            async def call() -> None:
                found = await store.page(
                    owner_id=owner_id, status=None, kind=None, limit=args.limit, cursor=cursor
                )
                if len(found.jobs) != args.limit:
                    raise RuntimeError("a page came back short")

            return call

        await unsend()
        figures = {
            "relay: due_for_send": statistics.median(
                [await relay_pick_and_reset() for _ in range(args.samples)]
            ),
            "sweeper: recover_stale": statistics.median(
                [await sweep_and_reset() for _ in range(args.samples)]
            ),
        }
        for name, call in (
            ("GET /jobs, owner, first page", page(owner, None)),
            ("GET /jobs, owner, middle page", page(owner, owner_middle)),
            ("GET /jobs, admin, first page", page(None, None)),
            ("GET /jobs, admin, middle page", page(None, admin_middle)),
        ):
            await call()  # warm
            figures[name] = await median_seconds(call, args.samples)

        async def scrape() -> None:
            await job_figures(pool)

        await scrape()  # folds what the live set and the last throughput run finished
        figures["/metrics: job figures"] = await median_seconds(scrape, args.samples)
        return figures
    finally:
        await pool.close()


def throughput(
    url: str, servers: Servers, args: argparse.Namespace, workdir: Path, label: str
) -> tuple[float, float]:
    """(enqueued/s, processed/s) of ``--jobs`` no-op jobs, as bench.throughput measures them."""
    servers.flush_redis()
    env = app_env(url, servers.redis_url, workdir / "data", LOG_LEVEL="WARNING")
    settings = load_settings(env)
    enqueue = asyncio.run(submit_all(settings, args.jobs, 16))
    client = redis.Redis.from_url(servers.redis_url)
    pending_key = f"dramatiq:{NOOP.queue}.msgs"
    with psycopg.connect(url, autocommit=True) as conn:

        def all_done() -> bool:
            if client.hlen(pending_key):
                return False
            row = conn.execute(
                "SELECT count(*) FROM jobs WHERE owner_id = 'bench'"
                " AND status IN ('queued', 'running', 'retrying')"
            ).fetchone()
            return bool(row and row[0] == 0)

        run = timed_pool(
            dramatiq_argv("workers.app", args),
            env,
            workdir / f"pool-{label}.log",
            all_done,
            args,
            f"{label} jobs",
            client,
        )
        seconds = run.seconds
        # this run's jobs join the finished ones, in both databases alike
        conn.execute("UPDATE jobs SET owner_id = 'bench-done' WHERE owner_id = 'bench'")
    servers.flush_redis()
    return args.jobs / enqueue, args.jobs / seconds


async def prune_rate(url: str, newest: datetime, days: int) -> tuple[dict[str, int], float]:
    """One daily run at steady state: the oldest day of the history is past the window."""
    pool = create_pool(url, statement_timeout_seconds=600.0, max_size=1)
    await pool.open(wait=True)
    try:
        started = time.perf_counter()
        oldest_day_ends = newest - timedelta(days=days - 1)
        counts = await drop_finished_before(PgJobHistory(pool), oldest_day_ends)
        return counts, time.perf_counter() - started
    finally:
        await pool.close()


# --- the run -----------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.job_history", description=__doc__)
    parser.add_argument("--history", type=int, default=10_000_000, help="finished jobs")
    parser.add_argument("--days", type=int, default=90, help="the history's time span")
    parser.add_argument("--owners", type=int, default=1_000)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--samples", type=int, default=30, help="calls per query per pair")
    parser.add_argument("--jobs", type=int, default=5_000, help="jobs per throughput run")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--limit", type=int, default=20, help="rows per GET /jobs page")
    parser.add_argument("--relay-limit", type=int, default=500)
    parser.add_argument("--grace", type=float, default=10.0)
    parser.add_argument("--stale-after", type=float, default=30.0)
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per phase")
    parser.add_argument(
        "--ids",
        choices=sorted(ID_SCHEMES),
        default="time",
        help="job ids: time-ordered UUIDv7 as the platform makes them (default), or random "
        "UUIDv4 everywhere (history and the jobs submitted), as before it did",
    )
    parser.add_argument("--no-throughput", action="store_true")
    parser.add_argument("--prune", action="store_true", help="time retention at the end")
    return parser


@dataclass
class Measured:
    """What one run measured: per figure, its (empty, full) value in each pair."""

    results: dict[str, list[tuple[float, float]]]
    build_seconds: float
    prune: tuple[dict[str, int], float] | None  # --prune: (counts, seconds)


def measure(args: argparse.Namespace) -> Measured:
    if args.ids == "random":  # the platform's ids before UUIDv7, for the comparison
        import domain.adapters.jobs.store as job_store

        job_store.new_job_id = uuid.uuid4
    now = datetime.now(UTC)
    newest_history = now - timedelta(days=2)
    results: dict[str, list[tuple[float, float]]] = {}
    with contextlib.ExitStack() as stack:
        servers = Servers(stack)
        workdir = Path(tempfile.mkdtemp(prefix="hp-bench-history-"))
        empty = stack.enter_context(fresh_database(servers.admin_database_url))
        full = stack.enter_context(fresh_database(servers.admin_database_url))
        note(f"PostgreSQL: {servers.postgres_label}; Redis: {servers.redis_label}")
        build_seconds = build_history(full, args, newest_history)
        for url in (empty, full):
            add_live_set(url, args, now)
        for pair in range(args.pairs):
            note(f"pair {pair + 1}/{args.pairs}")
            measured: dict[str, dict[str, float]] = {}
            for label, url in (("empty", empty), ("full", full)):
                figures = asyncio.run(query_times(url, args))
                if not args.no_throughput:
                    enqueued, processed = throughput(url, servers, args, workdir, label)
                    figures["throughput: enqueued jobs/s"] = enqueued
                    figures["throughput: processed jobs/s"] = processed
                measured[label] = figures
            for name in measured["empty"]:
                empty_figure, full_figure = measured["empty"][name], measured["full"][name]
                results.setdefault(name, []).append((empty_figure, full_figure))
                note(f"  {name}: empty {empty_figure:.4g}, full {full_figure:.4g}")
        prune = None
        if args.prune:
            note("retention: one daily run over the full database")
            prune = asyncio.run(prune_rate(full, newest_history, args.days))
        shutil.rmtree(workdir, ignore_errors=True)
    return Measured(results, build_seconds, prune)


def figures(quick: bool = False) -> dict[str, object]:
    """For ``python -m bench``: each figure on the full database against the empty one
    (median of the pairs' full / empty ratios), with the issue's targets."""
    quick_argv = ["--history", "200000", "--pairs", "3", "--samples", "10", "--jobs", "1000"]
    args = _parser().parse_args(quick_argv if quick else [])
    measured = measure(args)
    rows = []
    for name, pairs in measured.results.items():
        higher_is_better = name.startswith("throughput")
        ratio = statistics.median([full / empty for empty, full in pairs])
        scale, unit = (1.0, "jobs/s") if higher_is_better else (1000.0, "ms")
        rows.append(
            figure(
                name,
                statistics.median(f for _, f in pairs) * scale,
                unit,
                baseline=statistics.median(e for e, _ in pairs) * scale,
                baseline_name=f"empty tables, median of {len(pairs)} pairs",
                ratio=ratio,
                target="ratio >= 0.9" if higher_is_better else "ratio <= 1.1",
                met=ratio >= 0.9 if higher_is_better else ratio <= 1.1,
            )
        )
    return {
        "rows": rows,
        "history": args.history,
        "build_seconds": measured.build_seconds,
        "pairs": {name: pairs for name, pairs in measured.results.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not 0 <= args.history <= 50_000_000:
        parser.error("--history must be between 0 and 50,000,000")
    measured = measure(args)
    report(args, measured.results, measured.build_seconds)
    if measured.prune is not None:
        counts, seconds = measured.prune
        print()
        print(
            f"retention, one daily run: dropped {counts['dropped']:,} of "
            f"{counts['walked']:,} jobs walked (and their events) in {seconds:.1f} s: "
            f"{counts['dropped'] / seconds:,.0f} jobs/s"
        )
    return 0


def report(
    args: argparse.Namespace, results: dict[str, list[tuple[float, float]]], build_seconds: float
) -> None:
    with os.popen("uptime") as out:
        load = out.read().strip()
    print(
        f"job_history: {args.history:,} finished jobs and {args.history * 3:,} events of "
        f"history (built in {build_seconds:.0f} s) vs none; {os.cpu_count()} CPUs; "
        f"{args.pairs} interleaved pairs; job ids: {args.ids}"
    )
    print(f"live set in both: {LIVE_FINISHED:,} recent finished jobs, {LIVE_PENDING} overdue")
    print(f"queued, {LIVE_STALE} stale running; {args.owners} owners; load: {load}")
    print()
    rows = []
    for name, pairs in results.items():
        higher_is_better = name.startswith("throughput")
        ratios = [full / empty for empty, full in pairs]
        ratio = statistics.median(ratios)
        ok = ratio >= 0.9 if higher_is_better else ratio <= 1.1
        unit = (lambda v: f"{v:,.0f}") if higher_is_better else (lambda v: f"{v * 1000:.2f} ms")
        rows.append(
            [
                name,
                unit(statistics.median(e for e, _ in pairs)),
                unit(statistics.median(f for _, f in pairs)),
                f"{ratio:.2f}",
                f"{min(ratios):.2f}-{max(ratios):.2f}",
                ("meets" if ok else "MISSES") + (" (>= 0.9)" if higher_is_better else " (<= 1.1)"),
            ]
        )
    print(table(["measure", "empty", "full", "full/empty", "pair range", "target"], rows))
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
