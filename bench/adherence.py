"""Adherence roll-ups over many doses: the full recomputation, and the incremental one after 1 %
of the doses change, each against a plain GROUP BY over the same rows in the same run.

    .venv/bin/python -m bench.adherence [--patients 100000] [--days 90] [--change 0.01]

On a fresh database migrated to head, ``--patients`` patients each get one active
prescription whose doses (two or three a day, 2.8 on average: 100,000 x 90 days is about
25 million rows) are loaded settled (taken, some late, skipped, missed) in chunks of
1,000 patients; the trigger on ``doses`` notes every (patient, day) as it does for real
changes. Then, timed:

1. baseline: a plain ``GROUP BY`` over every dose (per patient, day and prescription: what
   one would run without roll-ups), counted in PostgreSQL, nothing fetched;
2. full: the roll-up job's passes (``PgAdherenceStore.roll_up``, 20,000 notes a pass) over
   every noted window, i.e. the whole table recomputed through the incremental machinery;
3. incremental: ``--change`` of the doses (random ones) change status in one statement, then
   the same passes recompute only the windows they touch;
4. one patient's 90-day read and one doctor's dashboard over 1,000 connected patients.

Each figure with its ratio to the baseline of the same run. A run at full scale needs a few
GB of disk and several minutes to load.
"""

from __future__ import annotations

import argparse
import contextlib
import time
import uuid
from datetime import UTC, date, datetime, timedelta

import psycopg
from psycopg.rows import dict_row

from bench._support import Servers, figure, fresh_database, note, table
from domain.adapters.adherence.store import PgAdherenceStore
from domain.adherence.model import Granularity
from domain.adherence.rollup import ROLLUP_BATCH

CHUNK = 1_000
DASHBOARD_PATIENTS = 1_000


def load(conn: psycopg.Connection, patients: int, days: int) -> int:
    """Patients, one doctor, prescriptions, items and settled doses; returns the dose count."""
    first = date.today() - timedelta(days=days)
    conn.execute(
        """
        INSERT INTO users (id, role, status, created_at, updated_at, name_sealed, name_key_id,
                           email_sealed, email_key_id, email_lookup)
        VALUES ('00000000-0000-0000-0000-00000000d0c0', 'doctor', 'active', now(), now(),
                '\\x00', 'bench', '\\x00', 'bench', '\\xd0c0')
        """
    )
    for start in range(0, patients, CHUNK):
        size = min(CHUNK, patients - start)
        conn.execute(
            """
            WITH made AS (
                INSERT INTO users (id, role, status, created_at, updated_at, name_sealed,
                                   name_key_id, email_sealed, email_key_id, email_lookup)
                SELECT gen_random_uuid(), 'patient', 'active', now(), now(), '\\x00', 'bench',
                       '\\x00', 'bench', uuid_send(gen_random_uuid())
                FROM generate_series(1, %(size)s)
                RETURNING id
            ), numbered AS (
                SELECT id AS patient_id, gen_random_uuid() AS prescription_id,
                       gen_random_uuid() AS item_id,
                       %(start)s + row_number() OVER () AS ordinal
                FROM made
            ), prescribed AS (
                INSERT INTO prescriptions (id, patient_id, doctor_id, status, starts_on, ends_on,
                                           created_at, updated_at)
                SELECT prescription_id, patient_id, '00000000-0000-0000-0000-00000000d0c0',
                       'active', %(first)s, %(first)s + %(days)s, now(), now()
                FROM numbered
                RETURNING id
            ), itemised AS (
                INSERT INTO prescription_items (id, prescription_id, position, starts_on, ends_on,
                                                as_needed, details_sealed, details_key_id)
                SELECT n.item_id, n.prescription_id, 0, %(first)s, %(first)s + %(days)s, false,
                       '\\x00', 'bench'
                FROM numbered n JOIN prescribed p ON p.id = n.prescription_id
                RETURNING prescription_id
            )
            INSERT INTO doses (id, patient_id, prescription_id, item_id, due_at, local_date,
                               amount, status, late, updated_at)
            SELECT gen_random_uuid(), n.patient_id, n.prescription_id, n.item_id,
                   ((%(first)s + d)::timestamp + make_interval(hours => 8 + 6 * s))
                       AT TIME ZONE 'UTC',
                   %(first)s + d, '1',
                   (ARRAY['taken', 'taken', 'taken', 'taken', 'taken', 'taken', 'taken',
                          'skipped', 'missed', 'missed'])[1 + floor(random() * 10)::int],
                   random() < 0.1, now()
            FROM numbered n
            JOIN itemised i ON i.prescription_id = n.prescription_id
            CROSS JOIN generate_series(0, %(days)s - 1) AS d
            CROSS JOIN generate_series(0, 2) AS s
            WHERE s < 2 OR n.ordinal %% 5 <> 0
            """,
            {"size": size, "start": start, "first": first, "days": days},
        )
        conn.commit()
        if (start // CHUNK) % 10 == 9:
            note(f"loaded {start + size:,} patients")
    conn.execute("ANALYZE")
    return conn.execute("SELECT count(*) FROM doses").fetchone()[0]


def baseline(conn: psycopg.Connection) -> float:
    began = time.perf_counter()
    conn.execute(
        """
        SELECT count(*) FROM (
            SELECT patient_id, local_date, prescription_id, count(*),
                   count(*) FILTER (WHERE status = 'taken'),
                   count(*) FILTER (WHERE status = 'taken' AND late),
                   count(*) FILTER (WHERE status = 'skipped'),
                   count(*) FILTER (WHERE status = 'missed')
            FROM doses WHERE status IN ('taken', 'skipped', 'missed')
            GROUP BY patient_id, local_date, prescription_id) AS grouped
        """
    ).fetchone()
    return time.perf_counter() - began


async def roll_up_everything(database_url: str) -> tuple[float, int, int]:
    """The job's passes until no note is left: seconds, windows, passes."""
    windows = passes = 0
    began = time.perf_counter()
    async with await psycopg.AsyncConnection.connect(
        database_url, autocommit=True, row_factory=dict_row
    ) as conn:
        store = PgAdherenceStore(conn)
        while True:
            async with conn.transaction():
                rolled = await store.roll_up(ROLLUP_BATCH)
            windows += rolled.windows
            passes += 1
            if rolled.changes < ROLLUP_BATCH:
                break
    return time.perf_counter() - began, windows, passes


async def reads(database_url: str, days: int) -> tuple[float, float]:
    async with await psycopg.AsyncConnection.connect(
        database_url, autocommit=True, row_factory=dict_row
    ) as conn:
        patient = (await (await conn.execute("SELECT patient_id FROM doses LIMIT 1")).fetchone())[
            "patient_id"
        ]
        await conn.execute(
            """
            INSERT INTO connections (id, doctor_id, patient_id, status, initiated_by, created_at,
                                     updated_at)
            SELECT gen_random_uuid(), '00000000-0000-0000-0000-00000000d0c0', id, 'active',
                   'patient', now(), now()
            FROM users WHERE role = 'patient' LIMIT %s
            """,
            (DASHBOARD_PATIENTS,),
        )
        store = PgAdherenceStore(conn)
        today = date.today()
        began = time.perf_counter()
        await store.tallies(patient, today - timedelta(days=days), today, Granularity.WEEK, None)
        read = time.perf_counter() - began
        began = time.perf_counter()
        await store.at_risk(
            uuid.UUID("00000000-0000-0000-0000-00000000d0c0"),
            today - timedelta(days=30),
            None,
            50,
        )
        return read, time.perf_counter() - began


def measure(patients: int, days: int, change: float) -> dict[str, float]:
    """Seconds of each step (see the module's text), and the counts they worked on."""
    import asyncio

    with contextlib.ExitStack() as stack:
        servers = Servers(stack)
        database_url = stack.enter_context(fresh_database(servers.admin_database_url))
        note(f"PostgreSQL: {servers.postgres_label}; loading {patients:,} patients")
        with psycopg.connect(database_url) as conn:
            began = time.perf_counter()
            doses = load(conn, patients, days)
            loaded = time.perf_counter() - began
            note(f"{doses:,} doses loaded in {loaded:.0f} s")
            base_full = baseline(conn)
        full, windows, passes = asyncio.run(roll_up_everything(database_url))
        with psycopg.connect(database_url, autocommit=True) as conn:
            began = time.perf_counter()
            changed = conn.execute(
                """
                UPDATE doses SET status = CASE status WHEN 'taken' THEN 'missed' ELSE 'taken' END,
                                 late = NOT late
                WHERE random() < %s
                """,
                (change,),
            ).rowcount
            update = time.perf_counter() - began
            conn.execute("ANALYZE adherence_changes")
            base_again = baseline(conn)
        incremental, touched, _ = asyncio.run(roll_up_everything(database_url))
        read, dashboard = asyncio.run(reads(database_url, days))
    return {
        "doses": doses,
        "loaded": loaded,
        "baseline_full": base_full,
        "full": full,
        "windows": windows,
        "passes": passes,
        "changed": changed,
        "update": update,
        "baseline_again": base_again,
        "incremental": incremental,
        "touched": touched,
        "read": read,
        "dashboard": dashboard,
    }


def figures(*, quick: bool = False) -> dict[str, object]:
    """The runner's view, at a small size by default (2,000 patients x 90 days; quick: 500)."""
    patients, days = (500, 90) if quick else (2_000, 90)
    m = measure(patients, days, 0.01)
    rows = [
        figure(
            f"adherence full roll-up, {int(m['doses']):,} doses",
            m["full"],
            "s",
            baseline=m["baseline_full"],
            baseline_name="plain GROUP BY, s",
            ratio=m["full"] / m["baseline_full"],
        ),
        figure(
            f"adherence incremental roll-up, {int(m['touched']):,} windows",
            m["incremental"],
            "s",
            baseline=m["baseline_again"],
            baseline_name="plain GROUP BY, s",
            ratio=m["incremental"] / m["baseline_again"],
        ),
        figure(f"dashboard over {DASHBOARD_PATIENTS:,} patients", m["dashboard"] * 1000, "ms"),
    ]
    return {"bench": "adherence", "patients": patients, "days": days, "seconds": m, "rows": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--change", type=float, default=0.01, help="share of doses changed")
    args = parser.parse_args(argv)
    m = measure(args.patients, args.days, args.change)
    doses, loaded, base_full, full = m["doses"], m["loaded"], m["baseline_full"], m["full"]
    windows, passes, changed, update = m["windows"], m["passes"], m["changed"], m["update"]
    base_again, incremental, touched = m["baseline_again"], m["incremental"], m["touched"]
    read, dashboard = m["read"], m["dashboard"]
    rows = [
        ("plain GROUP BY over every dose (baseline)", f"{base_full:.2f} s", "1.00"),
        (
            f"full roll-up: {windows:,} windows in {passes} passes",
            f"{full:.2f} s",
            f"{full / base_full:.2f}",
        ),
        (f"update of {changed:,} doses (trigger notes)", f"{update:.2f} s", ""),
        ("plain GROUP BY again (baseline)", f"{base_again:.2f} s", "1.00"),
        (
            f"incremental roll-up: {touched:,} windows",
            f"{incremental:.2f} s",
            f"{incremental / base_again:.2f}",
        ),
        (f"one patient's {args.days}-day read by week", f"{read * 1000:.1f} ms", ""),
        (f"dashboard over {DASHBOARD_PATIENTS:,} patients", f"{dashboard * 1000:.1f} ms", ""),
    ]
    print(f"{doses:,} doses, {args.patients:,} patients x {args.days} days "
          f"(loaded in {loaded:.0f} s), {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")  # fmt: skip
    print(table(("what", "time", "x baseline"), rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
