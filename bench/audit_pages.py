"""``GET /api/v1/audit`` pages on a trail of many months, against the same pages on a trail of
one month.

    .venv/bin/python -m bench.audit_pages [--months 72] [--per-month 20000] [--repeat 200]

Two fresh databases migrated to head. Each gets a trail written straight into
``audit_events`` in chain order with ``generate_series`` (its hashes are placeholders: a page
does not check them), ``--per-month`` events a month: one month of it (the short trail, the
baseline), or ``--months`` months (the long one: six years by default, the span a medical
audit trail is kept). In both, one event in a thousand is the same doctor's read of the
same patient's record; the others spread over a thousand actors and records. Both are
analysed, as autovacuum would leave them.

Each page is the read the API runs (``PgAuditStore.page`` on the platform's pool; no event
is pending, so its linking finds nothing), 50 events, ``--repeat`` times, the two trails
taking turns so a busy machine slows both alike:

* the first page of the whole trail;
* the doctor's first page, and the doctor's page from the middle of the trail (a cursor);
* the patient's record's first page.

It prints the p50 of each in milliseconds and the ratio long over short. The long trail
holds ``--months`` times the rows and the partitions; a page whose cost followed the rows
of the actor it filters on (an index in ``at`` order, then a sort) shows it here.
127.0.0.1 only; bounded by the sizes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime

import psycopg

from bench._support import Servers, figure, fresh_database, note, table
from domain.adapters.audit.partitions import add_months
from domain.adapters.audit.store import PgAuditStore
from domain.adapters.cursors import encode_sequence
from domain.adapters.postgres import create_pool
from domain.audit.trail import AuditQuery

PAGE = 50
ONE_IN = 1000  # the doctor's share of the trail
DOCTOR = AuditQuery(actor_id="bench-doctor")
RECORD = AuditQuery(resource_type="record", resource_id="bench-record")


def write_trail(
    database_url: str, first_month: date, months: int, per_month: int, one_in: int = ONE_IN
) -> None:
    """``months`` months of ``per_month`` events from ``first_month`` (a month's first day), in
    chain order: every ``one_in``-th (``seq`` a multiple of it) is the doctor's (``DOCTOR``) read
    of the record (``RECORD``), the others spread over a thousand actors and records. The
    sequence and the chain's head are moved past them, as the chaining leaves them, so events
    chained afterwards follow them in the chain (their hashes are placeholders)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT audit_ensure_partitions(%s, %s)", (first_month, months))
        conn.execute(
            """
            INSERT INTO audit_events (seq, at, actor_id, actor_role, action, resource_type,
                                      resource_id, outcome, status_code, prev_hash, hash)
            SELECT n, %(first)s::timestamptz + (n - 1) / %(per)s * interval '1 month'
                      + (n - 1) %% %(per)s * (interval '27 days' / %(per)s),
                   CASE WHEN n %% %(one_in)s = 0 THEN 'bench-doctor'
                        ELSE 'bench-actor-' || n %% 1000 END,
                   'doctor', 'record.read', 'record',
                   CASE WHEN n %% %(one_in)s = 0 THEN 'bench-record'
                        ELSE 'bench-record-' || n %% 997 END,
                   'success', 200, '\\x00', '\\x00'
            FROM generate_series(1, %(total)s) AS n
            """,
            {"first": first_month, "per": per_month, "one_in": one_in, "total": months * per_month},
        )
        conn.execute("SELECT setval('audit_events_seq', %s)", (months * per_month,))
        with conn.transaction():  # the head names the newest event, as the chaining leaves it
            conn.execute("SELECT set_config('audit.chaining', 'on', true)")
            conn.execute("UPDATE audit_chain_head SET seq = %s", (months * per_month,))
        conn.execute("ANALYZE audit_events")


Read = Callable[[PgAuditStore], Awaitable[object]]


def reads(total: int) -> dict[str, Read]:
    """The pages timed, by name, for a trail of ``total`` events."""
    middle = encode_sequence(total // 2)
    return {
        "first page of the trail": lambda s: s.page(AuditQuery(), limit=PAGE, cursor=None),
        "doctor's first page": lambda s: s.page(DOCTOR, limit=PAGE, cursor=None),
        "doctor's page from the middle": lambda s: s.page(DOCTOR, limit=PAGE, cursor=middle),
        "record's first page": lambda s: s.page(RECORD, limit=PAGE, cursor=None),
    }


async def timed(read: Read, store: PgAuditStore) -> float:
    started = time.perf_counter()
    await read(store)
    return (time.perf_counter() - started) * 1000


async def measure(args: argparse.Namespace, short_url: str, long_url: str) -> dict[str, tuple]:
    """For each page: the p50 ms on the short trail and on the long one."""
    pools = [
        create_pool(url, statement_timeout_seconds=60, max_size=2) for url in (short_url, long_url)
    ]
    for pool in pools:
        await pool.open(wait=True)
    try:
        short, long = (PgAuditStore(pool) for pool in pools)
        pages = zip(
            reads(args.per_month).items(), reads(args.months * args.per_month).values(), strict=True
        )
        found: dict[str, tuple] = {}
        for (name, on_short), on_long in pages:
            note(f"{name}: {args.repeat} times on each trail, in turn")
            times: tuple[list[float], list[float]] = ([], [])
            for _ in range(args.repeat):
                times[0].append(await timed(on_short, short))
                times[1].append(await timed(on_long, long))
            found[name] = (statistics.median(times[0]), statistics.median(times[1]))
        return found
    finally:
        for pool in pools:
            await pool.close()


def collect(args: argparse.Namespace) -> dict[str, tuple]:
    this_month = datetime.now(UTC).date().replace(day=1)
    with contextlib.ExitStack() as stack:
        servers = Servers(stack)
        short_url = stack.enter_context(fresh_database(servers.admin_database_url))
        long_url = stack.enter_context(fresh_database(servers.admin_database_url))
        note(f"writing the trails: 1 and {args.months} months of {args.per_month:,} events")
        write_trail(short_url, add_months(this_month, -1), 1, args.per_month)
        write_trail(long_url, add_months(this_month, -args.months), args.months, args.per_month)
        return asyncio.run(measure(args, short_url, long_url))


def sizes_of(quick: bool) -> argparse.Namespace:
    return argparse.Namespace(
        months=72, per_month=5000 if quick else 20000, repeat=50 if quick else 200
    )


def figures(*, quick: bool = False) -> dict[str, object]:
    """The runner's view: each page's p50 on the long trail against the short one."""
    args = sizes_of(quick)
    found = collect(args)
    return {
        "bench": "audit_pages",
        "sizes": vars(args),
        "rows": [
            figure(
                f"GET /audit, {name}, {args.months} months of trail",
                on_long,
                "ms",
                baseline=on_short,
                baseline_name="the same page on one month of trail",
                ratio=on_long / on_short,
            )
            for name, (on_short, on_long) in found.items()
        ],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, value in vars(sizes_of(quick=False)).items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=value)
    args = parser.parse_args(argv)
    if not (
        1 <= args.months <= 240
        and 2 * ONE_IN <= args.per_month <= 200_000
        and 5 <= args.repeat <= 10_000
    ):
        parser.error(f"--months 1-240, --per-month {2 * ONE_IN}-200000, --repeat 5-10000")
    found = collect(args)
    print(
        f"GET /audit pages of {PAGE}, p50 of {args.repeat}; {args.per_month:,} events a month; "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}"
    )
    print()
    headers = ["page", "1 month: ms", f"{args.months} months: ms", "ratio"]
    rows = [
        [name, f"{short:.3f}", f"{long:.3f}", f"{long / short:.2f}"]
        for name, (short, long) in found.items()
    ]
    print(table(headers, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
