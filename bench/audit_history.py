"""An audited write with years of monthly audit partitions, against the same with none.

    .venv/bin/python -m bench.audit_history [--months 72] [--writes 1000] [--pairs 3]

Two fresh databases migrated to head: one as the migration leaves it (this month, the
next ones and DEFAULT), one with ``--months`` more monthly partitions of the trail before
them, made by the partition upkeep (``PgAuditPartitions.ensure``), six years unless asked:
the span a medical audit trail is kept. The partitions are left empty (what grows with the
years here is their number, not their rows). In interleaved pairs (empty, with history,
...) each database takes ``--writes`` audited writes one after another, as the API writes
them: a unit of work that records one event, then its chaining, waited for
(``Services.audit_chaining.settle``). It prints, per write, the CPU time of the
database's backends (read from /proc: it does not move with the machine's other work the
way seconds do) and the wall time. Flat cost means the ratio with history over without
stays within 1.1 (issue 16's bound for the job tables).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench._support import (
    Servers,
    app_env,
    database_cpu_seconds,
    figure,
    fresh_database,
    median,
    note,
    table,
)
from domain.adapters.audit.partitions import add_months
from domain.adapters.bootstrap import Services, build_services
from domain.adapters.jobs.messaging import build_broker
from domain.auditing import AuditContext, AuditEntry
from domain.settings import load_settings

BENCHER = AuditContext(actor_id="bench-user", actor_role="patient")
WARM_UP = 100


@dataclass
class Round:
    database_ms: float  # PostgreSQL backends' CPU per write
    wall_ms: float


async def audited_writes(services: Services, database_url: str, writes: int) -> Round:
    async def one(i: int) -> None:
        async with services.uow() as uow:
            entry = AuditEntry(action="patient.read", resource_type="patient", resource_id=str(i))
            await uow.audit.record(BENCHER, entry)
        await services.audit_chaining.settle()

    for i in range(WARM_UP):
        await one(i)
    before, started = database_cpu_seconds(database_url), time.perf_counter()
    for i in range(writes):
        await one(i)
    wall = time.perf_counter() - started
    spent = database_cpu_seconds(database_url) - before
    return Round(database_ms=spent / writes * 1000, wall_ms=wall / writes * 1000)


async def open_services(database_url: str, redis_url: str, workdir: Path) -> Services:
    env = app_env(database_url, redis_url, workdir / "data", LOG_LEVEL="WARNING")
    settings = load_settings(env)
    services = build_services(settings, build_broker(settings.redis_url))
    await services.pool.open(wait=True)
    return services


async def add_history(services: Services, months: int) -> int:
    this_month = datetime.now(UTC).date().replace(day=1)
    made = await services.audit_partitions.ensure(add_months(this_month, -months), months)
    return len(made.created)


async def measure(
    args: argparse.Namespace, empty_url: str, full_url: str, redis_url: str
) -> tuple[list[Round], list[Round], int]:
    workdir = Path(tempfile.mkdtemp(prefix="hp-bench-audit-"))
    empty = await open_services(empty_url, redis_url, workdir)
    full = await open_services(full_url, redis_url, workdir)
    try:
        made = await add_history(full, args.months)
        without, with_history = [], []
        for pair in range(args.pairs):
            note(f"pair {pair + 1}/{args.pairs}: {args.writes} audited writes on each database")
            without.append(await audited_writes(empty, empty_url, args.writes))
            with_history.append(await audited_writes(full, full_url, args.writes))
        return without, with_history, made
    finally:
        await empty.close()
        await full.close()


def collect(args: argparse.Namespace) -> tuple[list[Round], list[Round], int]:
    with contextlib.ExitStack() as stack:
        servers = Servers(stack)
        empty_url = stack.enter_context(fresh_database(servers.admin_database_url))
        full_url = stack.enter_context(fresh_database(servers.admin_database_url))
        return asyncio.run(measure(args, empty_url, full_url, servers.redis_url))


def ratios(without: list[Round], with_history: list[Round], part: Callable[[Round], float]):
    return [part(b) / part(a) for a, b in zip(without, with_history, strict=True)]


def sizes_of(quick: bool) -> argparse.Namespace:
    return argparse.Namespace(months=72, writes=300 if quick else 1000, pairs=3)


def figures(*, quick: bool = False) -> dict[str, object]:
    """The runner's view: PostgreSQL CPU per audited write with the history over without."""
    args = sizes_of(quick)
    without, with_history, made = collect(args)
    database = ratios(without, with_history, lambda r: r.database_ms)
    return {
        "bench": "audit_history",
        "sizes": vars(args),
        "partitions_added": made,
        "rows": [
            figure(
                f"audited write with {made} more monthly partitions, PostgreSQL CPU",
                median([r.database_ms for r in with_history]),
                "ms",
                baseline=median([r.database_ms for r in without]),
                baseline_name="the partitions the migration makes",
                ratio=median(database),
                target="ratio <= 1.1",
                met=median(database) <= 1.1,
            )
        ],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, value in vars(sizes_of(quick=False)).items():
        parser.add_argument(f"--{name}", type=int, default=value)
    args = parser.parse_args(argv)
    if not (1 <= args.months <= 240 and 10 <= args.writes <= 100_000 and 1 <= args.pairs <= 20):
        parser.error("--months 1-240, --writes 10-100000, --pairs 1-20")
    without, with_history, made = collect(args)
    rows = [
        [
            str(pair + 1),
            f"{a.database_ms:.3f}",
            f"{b.database_ms:.3f}",
            f"{b.database_ms / a.database_ms:.2f}",
            f"{a.wall_ms:.3f}",
            f"{b.wall_ms:.3f}",
        ]
        for pair, (a, b) in enumerate(zip(without, with_history, strict=True))
    ]
    print(
        f"audited writes, one at a time; {made} monthly partitions added; "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}"
    )
    print()
    headers = ["pair", "PG ms (none)", f"PG ms (+{made})", "ratio", "wall ms (none)", "wall ms"]
    print(table(headers, rows))
    database = ratios(without, with_history, lambda r: r.database_ms)
    print()
    print(f"PostgreSQL CPU per write, with history / without: median {median(database):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
