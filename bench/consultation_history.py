"""Booking's reads and holds with every finished consultation in the live table, against the
same after ``consultation.archive`` moved the old ones to the monthly-partitioned history.

    .venv/bin/python -m bench.consultation_history [--finished 200000] [--recent 5000]
                                                  [--upcoming 2000] [--doctors 200]
                                                  [--patients 5000] [--repeat 300]

On a fresh database migrated to head: ``--doctors`` doctors and ``--patients`` patients;
``--finished`` finished consultations (completed, cancelled, no-show, released) spread over
the two years before CONSULTATION_HISTORY_AFTER_DAYS (30) ago, ``--recent`` finished within
the last 30 days, and ``--upcoming`` confirmed ones over the coming days. Each operation is
what the API runs (``PgConsultationRepository``), ``--repeat`` times, first with everything
in the live table (the baseline), then again after the archive job's batches (500 a
transaction) moved the old ones; the archiving rate is measured between the two. Holds are
inserted at free times and rolled back, so both phases see the same data; both phases start
from a vacuumed table (after the move, as autovacuum leaves it). Ratios are after over
before: below 1 is faster after the move. 127.0.0.1 only; bounded by the sizes.
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

import psycopg
from psycopg.rows import dict_row

from bench._support import Servers, fresh_database, note, table
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


async def timed(repeat: int, step: Callable[[int], Awaitable[object]]) -> list[float]:
    out = []
    for n in range(repeat):
        start = time.perf_counter()
        await step(n)
        out.append((time.perf_counter() - start) * 1000)
    return out


async def measure(
    conn: psycopg.AsyncConnection, store: PgConsultationRepository, seeded: dict, repeat: int
) -> dict[str, list[float]]:
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

    steps = {
        "hold (exclusion check), rolled back": hold,
        "read one old consultation by id": by_id,
        "patient's past list, first page": past_page,
        "patient's past list, third page": deep_page,
        "doctor's past day": doctor_day,
        "doctor's upcoming list": upcoming,
        "reminders due scan": reminders,
    }
    results = {}
    for label, step in steps.items():
        await timed(max(5, repeat // 10), step)  # warm-up: plans cached, pages in memory
        results[label] = await timed(repeat, step)
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
    return moved, batches, seconds


async def run(database_url: str, args: argparse.Namespace) -> tuple:
    async with await psycopg.AsyncConnection.connect(
        database_url, autocommit=True, row_factory=dict_row
    ) as conn:
        store = PgConsultationRepository(conn, PhiCipher({"bench": bytes(32)}, "bench"))
        seeded = await seed(conn, args)
        before = await measure(conn, store, seeded, args.repeat)
        archived = await archive_all(conn, store)
        after = await measure(conn, store, seeded, args.repeat)
        cursor = await conn.execute(
            "SELECT (SELECT count(*) FROM consultations) AS live,"
            " (SELECT count(*) FROM consultations_history) AS history,"
            " (SELECT count(*) FROM pg_inherits"
            "  WHERE inhparent = 'consultations_history'::regclass) AS months,"
            " pg_total_relation_size('consultations') AS live_bytes"
        )
        sizes = await cursor.fetchone()
    return before, after, archived, sizes


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--finished", type=int, default=200_000)
    parser.add_argument("--recent", type=int, default=5_000)
    parser.add_argument("--upcoming", type=int, default=2_000)
    parser.add_argument("--doctors", type=int, default=200)
    parser.add_argument("--patients", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=300)
    args = parser.parse_args(argv)
    with contextlib.ExitStack() as stack:
        servers = Servers(stack)
        note(f"PostgreSQL: {servers.postgres_label}")
        database_url = stack.enter_context(fresh_database(servers.admin_database_url))
        before, after, (moved, batches, seconds), sizes = asyncio.run(run(database_url, args))
    rows = []
    for label, baseline in before.items():
        then, now_ = statistics.median(baseline), statistics.median(after[label])
        rows.append(
            [
                label,
                f"{then:.2f}",
                f"{percentile(baseline, 0.95):.2f}",
                f"{now_:.2f}",
                f"{percentile(after[label], 0.95):.2f}",
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
    print(f"# {args.repeat} of each operation per phase, one connection, 127.0.0.1")
    return 0


if __name__ == "__main__":
    sys.exit(main())
