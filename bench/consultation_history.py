"""Booking's reads and holds with every finished consultation in the live table, against the
same after ``consultation.archive`` moved the old ones to the monthly-partitioned history.

    .venv/bin/python -m bench.consultation_history [--finished 200000] [--recent 5000]
                                                  [--upcoming 2000] [--doctors 200]
                                                  [--patients 5000] [--repeat 300]

On a fresh database migrated to head: ``--doctors`` doctors and ``--patients`` patients;
``--finished`` finished consultations (completed, cancelled, no-show, released) spread over
the two years before CONSULTATION_HISTORY_AFTER_DAYS (30) ago, ``--recent`` finished within
the last 30 days, and ``--upcoming`` confirmed ones over the coming days. Each operation is
what the API runs (``PgConsultationRepository``), ``--repeat`` times on two copies of the
same data: one with everything in the live table (the baseline), one where the archive
job's batches (500 a transaction, timed) moved the old ones to the history. The two take
turns, operation by operation, so a busy machine slows both alike. Holds are inserted at
free times and rolled back; both copies are vacuumed (the split one after the move, as
autovacuum leaves it). Ratios are split over all-live: below 1 is faster after the move.
127.0.0.1 only; bounded by the sizes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import psycopg
from psycopg.rows import dict_row

from bench._support import Servers, figure, fresh_database, note, table, with_path
from domain.adapters.consultations.store import PgConsultationRepository
from domain.adapters.phi.cipher import PhiCipher
from domain.consultations.history import ARCHIVE_BATCH
from domain.consultations.model import (
    Consultation,
    ConsultationFilter,
    ConsultationStatus,
    Period,
    new_room,
)

AFTER_DAYS = 30
STATUSES = ("completed", "cancelled", "no_show", "released")


async def seed(conn: psycopg.AsyncConnection, args: argparse.Namespace) -> dict[str, list]:
    doctors = [uuid.uuid4() for _ in range(args.doctors)]
    patients = [uuid.uuid4() for _ in range(args.patients)]
    for role, ids in (("doctor", doctors), ("patient", patients)):
        await conn.execute(
            """
            INSERT INTO users (id, email, role, status, name, created_at, updated_at)
            SELECT id, 'bench-' || id || '@example.org', %s, 'active', 'Bench', now(), now()
            FROM unnest(%s::uuid[]) AS id
            """,
            (role, ids),
        )
    two_years = 730 * 86400
    # finished: old (to move) and recent (to stay), minute-aligned, any status
    for count, oldest, newest in (
        (args.finished, AFTER_DAYS * 86400 + two_years, AFTER_DAYS * 86400 + 3600),
        (args.recent, AFTER_DAYS * 86400 - 3600, 3600),
    ):
        await conn.execute(
            """
            INSERT INTO consultations (id, patient_id, doctor_id, starts_at, ends_at,
                blocked_until, status, room, created_at, updated_at)
            SELECT gen_random_uuid(), (%(p)s::uuid[])[1 + i %% %(np)s],
                (%(d)s::uuid[])[1 + i %% %(nd)s], s, s + interval '30 minutes',
                s + interval '40 minutes', (%(st)s::text[])[1 + i %% 4],
                'room-' || gen_random_uuid(),
                s - interval '1 day', s + interval '30 minutes'
            FROM generate_series(1, %(n)s) AS i,
                LATERAL (SELECT date_trunc('minute', now() - make_interval(
                    secs => %(newest)s + (%(oldest)s - %(newest)s) * i::float8 / %(n)s)) AS s) t
            """,
            {
                "p": patients,
                "d": doctors,
                "np": len(patients),
                "nd": len(doctors),
                "st": list(STATUSES),
                "n": count,
                "oldest": oldest,
                "newest": newest,
            },
        )
    # upcoming: each doctor's slots 40 minutes apart from tomorrow on (never overlapping)
    await conn.execute(
        """
        INSERT INTO consultations (id, patient_id, doctor_id, starts_at, ends_at, blocked_until,
            status, room, created_at, updated_at)
        SELECT gen_random_uuid(), (%(p)s::uuid[])[1 + i %% %(np)s],
            (%(d)s::uuid[])[1 + i %% %(nd)s], s, s + interval '30 minutes',
            s + interval '40 minutes', 'confirmed', 'room-' || gen_random_uuid(), now(), now()
        FROM generate_series(0, %(n)s - 1) AS i,
            LATERAL (SELECT date_trunc('hour', now()) + interval '1 day'
                + (i / %(nd)s) * interval '40 minutes' AS s) t
        """,
        {"p": patients, "d": doctors, "np": len(patients), "nd": len(doctors), "n": args.upcoming},
    )
    await conn.execute("VACUUM ANALYZE consultations")
    cursor = await conn.execute(
        "SELECT id, starts_at FROM consultations WHERE ends_at <= now() - interval '30 days'"
        " ORDER BY random() LIMIT 1000"
    )
    old = await cursor.fetchall()
    return {"doctors": doctors, "patients": patients, "old": old}


Step = Callable[[int], Awaitable[object]]


def operations(
    conn: psycopg.AsyncConnection, store: PgConsultationRepository, seeded: dict
) -> dict[str, Step]:
    """Each operation as a step ``n``; the same seed gives both databases the same choices."""
    rng = random.Random(7)
    doctors, patients, old = seeded["doctors"], seeded["patients"], seeded["old"]
    now = datetime.now(UTC)
    far = (now + timedelta(days=400)).replace(minute=0, second=0, microsecond=0)

    async def hold(n: int) -> None:
        starts_at = far + timedelta(minutes=40 * n)
        consultation = Consultation(
            id=uuid.uuid4(),
            patient_id=rng.choice(patients),
            doctor_id=rng.choice(doctors),
            starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=30),
            blocked_until=starts_at + timedelta(minutes=40),
            status=ConsultationStatus.HELD,
            room=new_room(),
            created_at=now,
            updated_at=now,
        )
        async with conn.transaction(force_rollback=True):
            await store.add(consultation, None, b"")

    async def by_id(n: int) -> None:
        assert await store.get(old[n % len(old)]["id"]) is not None

    async def new_key(n: int) -> None:  # what every hold with an Idempotency-Key asks first
        assert await store.by_key(rng.choice(patients), f"bench-new-{n}") is None

    async def past_page(n: int) -> None:
        query = ConsultationFilter(party_id=rng.choice(patients), period=Period.PAST, limit=20)
        await store.page(query, now)

    async def deep_page(n: int) -> None:  # the patient's third page, by cursor
        query = ConsultationFilter(party_id=rng.choice(patients), period=Period.PAST, limit=10)
        for _ in range(3):
            page = await store.page(query, now)
            if page.next_cursor is None:
                return
            query = ConsultationFilter(
                party_id=query.party_id, period=Period.PAST, limit=10, cursor=page.next_cursor
            )

    async def doctor_day(n: int) -> None:  # one past day of a doctor, as the day view reads it
        day = old[n % len(old)]["starts_at"].replace(hour=0, minute=0, second=0, microsecond=0)
        query = ConsultationFilter(
            party_id=rng.choice(doctors),
            doctor_id=None,
            period=Period.PAST,
            start=day,
            end=day + timedelta(days=1),
            limit=500,
        )
        await store.page(query, now)

    async def upcoming(n: int) -> None:
        query = ConsultationFilter(party_id=rng.choice(doctors), period=Period.UPCOMING, limit=20)
        await store.page(query, now)

    async def reminders(n: int) -> None:
        await store.to_remind(now + timedelta(days=1), 200)

    return {
        "hold (exclusion check), rolled back": hold,
        "read one old consultation by id": by_id,
        "replay check of a new idempotency key": new_key,
        "patient's past list, first page": past_page,
        "patient's past list, third page": deep_page,
        "doctor's past day": doctor_day,
        "doctor's upcoming list": upcoming,
        "reminders due scan": reminders,
    }


async def measure(
    live: dict[str, Step], split: dict[str, Step], repeat: int
) -> dict[str, tuple[list[float], list[float]]]:
    """Each operation on both databases in turn, so the machine's load falls on both alike."""
    results = {}
    for label, on_live in live.items():
        on_split = split[label]
        for n in range(max(5, repeat // 10)):  # warm-up: plans cached, pages in memory
            await on_live(repeat + n)
            await on_split(repeat + n)
        times: tuple[list[float], list[float]] = ([], [])
        for n in range(repeat):
            for step, out in ((on_live, times[0]), (on_split, times[1])):
                start = time.perf_counter()
                await step(n)
                out.append((time.perf_counter() - start) * 1000)
        results[label] = times
    return results


async def archive_all(conn: psycopg.AsyncConnection, store: PgConsultationRepository) -> tuple:
    finished_before = datetime.now(UTC) - timedelta(days=AFTER_DAYS)
    moved, batches, start = 0, 0, time.perf_counter()
    while True:
        async with conn.transaction():
            count = await store.archive(finished_before, datetime.now(UTC), ARCHIVE_BATCH)
        moved, batches = moved + count, batches + 1
        if count < ARCHIVE_BATCH:
            break
    seconds = time.perf_counter() - start
    # what autovacuum does after a day's move: the live table's dead rows and index entries go
    await conn.execute("VACUUM ANALYZE consultations")
    await conn.execute("VACUUM ANALYZE consultations_history")
    await conn.execute("VACUUM ANALYZE consultations_history_lookup")
    return moved, batches, seconds


async def connect(url: str) -> psycopg.AsyncConnection:
    return await psycopg.AsyncConnection.connect(url, autocommit=True, row_factory=dict_row)


def store_on(conn: psycopg.AsyncConnection) -> PgConsultationRepository:
    return PgConsultationRepository(conn, PhiCipher({"bench": bytes(32)}, "bench"))


async def run(admin_url: str, live_url: str, split_url: str, args: argparse.Namespace) -> tuple:
    """Seed one database, copy it, archive in the copy, then measure both side by side."""
    async with await connect(live_url) as conn:
        seeded = await seed(conn, args)
    async with await connect(admin_url) as admin:
        await admin.execute(
            f"CREATE DATABASE {urlsplit(split_url).path[1:]} TEMPLATE {urlsplit(live_url).path[1:]}"
        )
    async with await connect(live_url) as live, await connect(split_url) as split:
        archived = await archive_all(split, store_on(split))
        results = await measure(
            operations(live, store_on(live), seeded),
            operations(split, store_on(split), seeded),
            args.repeat,
        )
        cursor = await split.execute(
            "SELECT (SELECT count(*) FROM consultations) AS live,"
            " (SELECT count(*) FROM consultations_history) AS history,"
            " (SELECT count(*) FROM pg_inherits"
            "  WHERE inhparent = 'consultations_history'::regclass) AS months,"
            " pg_total_relation_size('consultations') AS live_bytes"
        )
        sizes = await cursor.fetchone()
    return results, archived, sizes


def drop_database(admin_url: str, url: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {urlsplit(url).path[1:]} WITH (FORCE)")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def collect(args: argparse.Namespace) -> tuple:
    with contextlib.ExitStack() as stack:
        servers = Servers(stack)
        note(f"PostgreSQL: {servers.postgres_label}")
        admin_url = servers.admin_database_url
        live_url = stack.enter_context(fresh_database(admin_url))
        split_url = with_path(admin_url, f"/hp_bench_{uuid.uuid4().hex[:10]}")
        stack.callback(drop_database, admin_url, split_url)
        return asyncio.run(run(admin_url, live_url, split_url, args))


def sizes_of(quick: bool) -> argparse.Namespace:
    if quick:
        return argparse.Namespace(
            finished=20_000, recent=1_000, upcoming=1_000, doctors=100, patients=2_000, repeat=60
        )
    return argparse.Namespace(
        finished=200_000, recent=5_000, upcoming=2_000, doctors=200, patients=5_000, repeat=300
    )


def figures(*, quick: bool = False) -> dict[str, object]:
    """The runner's view: each operation's p50 after the move against all-live (same run,
    taking turns), and the archiving rate."""
    args = sizes_of(quick)
    results, (moved, batches, seconds), sizes = collect(args)
    rows = [
        figure(
            f"consultations, {label}",
            statistics.median(after),
            "ms p50",
            baseline=statistics.median(baseline),
            baseline_name="every consultation in the live table",
            ratio=statistics.median(after) / statistics.median(baseline),
        )
        for label, (baseline, after) in results.items()
    ]
    rows.append(figure("consultations archived", moved / seconds, "rows/s"))
    return {
        "bench": "consultation_history",
        "sizes": vars(args),
        "archived": {"rows": moved, "batches": batches, "seconds": seconds},
        "live_rows": sizes["live"],
        "history_rows": sizes["history"],
        "months": sizes["months"],
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = sizes_of(quick=False)
    for name, value in vars(defaults).items():
        parser.add_argument(f"--{name}", type=int, default=value)
    args = parser.parse_args(argv)
    results, (moved, batches, seconds), sizes = collect(args)
    rows = []
    for label, (baseline, after) in results.items():
        then, now_ = statistics.median(baseline), statistics.median(after)
        rows.append(
            [
                label,
                f"{then:.2f}",
                f"{percentile(baseline, 0.95):.2f}",
                f"{now_:.2f}",
                f"{percentile(after, 0.95):.2f}",
                f"{now_ / then:.2f}",
            ]
        )
    headers = ["operation", "all live p50 ms", "p95", "split p50 ms", "p95", "ratio p50"]
    print(table(headers, rows))
    print(
        f"# archived {moved:,} in {batches} batches of {ARCHIVE_BATCH} in {seconds:.1f} s"
        f" ({moved / seconds:,.0f} rows/s); live table now {sizes['live']:,} rows"
        f" ({sizes['live_bytes'] / 1e6:.1f} MB with indexes), history {sizes['history']:,}"
        f" rows in {sizes['months']} monthly partitions"
    )
    print(
        f"# {args.repeat} of each operation on each database, taking turns; one connection"
        " each, 127.0.0.1"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
