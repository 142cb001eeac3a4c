"""Medicine search latency under concurrent load, over the seeded catalogue.

    .venv/bin/python -m bench.medicine_search [--duration 10] [--concurrency 16] [--pool 8]
                                              [--rates 200,500]

On a fresh database migrated to head (so the catalogue holds the seeded WHO list),
``--concurrency`` tasks search for ``--duration`` seconds per run through one psycopg
pool of ``--pool`` connections, each search being exactly what
``GET /api/v1/medicines?q=...`` runs (``PgMedicineRepository.search``, limit 20), with a
mix of prefixes, whole names, brands, typos and words in reverse order.

One run per offered rate (searches per second, spread evenly over the tasks; latency is
counted from when a search was *due*, so a server that falls behind is charged for the
wait, not excused by it), then one saturating run (every task searches without pause:
its figures are the throughput ceiling, and its latency is mostly the queue of 16 tasks
on the machine's cores). p50/p95/p99 over every search of a run. Target: p99 < 10 ms at
the offered rates. Bounded by the durations; 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import time

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from bench._support import Servers, figure, fresh_database, note, table
from domain.adapters.medicines.store import PgMedicineRepository
from domain.medicines.model import query_words

QUERIES = (
    "amox",
    "amoxicillin",
    "amoxicilin",
    "clav amox",
    "paracetamol",
    "panadol",
    "metformn",
    "salbutamol inhaler",
    "ventolin",
    "atorva",
    "losartan",
    "artemether lumefantrine",
    "lumefantrine artemether",
    "ciproflox",
    "omeprazol",
    "N02BE01",
    "a",
    "iso",
    "dolutegravir lamivudine tenofovir",
    "warfrin",
)
LIMIT = 20
TARGET_P99_MS = 10.0


async def searcher(
    pool: AsyncConnectionPool,
    until: float,
    task: int,
    tasks: int,
    rate: float | None,
    out: list[float],
) -> None:
    """Search until ``until``: at ``rate`` per second across ``tasks`` tasks, or flat out."""
    start, index = time.perf_counter(), 0
    while True:
        due = start + (index * tasks + task) / rate if rate else time.perf_counter()
        if due >= until:
            return
        if rate:
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
        words = query_words(QUERIES[(index * tasks + task) % len(QUERIES)])
        index += 1
        async with pool.connection() as conn:
            await PgMedicineRepository(conn).search(words, LIMIT)
        out.append((time.perf_counter() - due) * 1000)


async def one_run(
    pool: AsyncConnectionPool, duration: float, tasks: int, rate: float | None
) -> list[float]:
    latencies: list[float] = []
    until = time.perf_counter() + duration
    await asyncio.gather(*(searcher(pool, until, n, tasks, rate, latencies) for n in range(tasks)))
    return latencies


async def run(
    database_url: str, duration: float, concurrency: int, pool_size: int, rates: list[float]
) -> list[tuple[str, list[float]]]:
    pool = AsyncConnectionPool(
        database_url,
        min_size=pool_size,
        max_size=pool_size,
        kwargs={"row_factory": dict_row, "autocommit": True},
        open=False,
    )
    await pool.open(wait=True)
    try:
        await one_run(pool, 1.0, concurrency, None)  # warm-up: plans cached, pages in memory
        runs = []
        for rate in rates:
            runs.append(
                (f"{rate:,.0f}/s offered", await one_run(pool, duration, concurrency, rate))
            )
        runs.append(("saturating", await one_run(pool, duration, concurrency, None)))
        return runs
    finally:
        await pool.close()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def searched(
    duration: float, concurrency: int, pool: int, rates: list[float]
) -> list[tuple[str, list[float]]]:
    with contextlib.ExitStack() as stack:
        servers = Servers(stack)
        note(f"PostgreSQL: {servers.postgres_label}")
        database_url = stack.enter_context(fresh_database(servers.admin_database_url))
        return asyncio.run(run(database_url, duration, concurrency, pool, rates))


def figures(*, quick: bool = False) -> dict[str, object]:
    """The runner's view: p99 at each offered rate (target < 10 ms), and the ceiling."""
    duration = 3.0 if quick else 10.0
    runs = searched(duration, 16, 8, [200.0, 500.0])
    rows = []
    for label, latencies in runs:
        p99 = percentile(latencies, 0.99)
        offered = label != "saturating"
        rows.append(
            figure(
                f"medicine search p99, {label}",
                p99,
                "ms",
                target=f"p99 < {TARGET_P99_MS:g} ms" if offered else None,
                met=(p99 < TARGET_P99_MS) if offered else None,
            )
        )
        if not offered:
            rows.append(figure("medicine search ceiling", len(latencies) / duration, "searches/s"))
    summary = {
        label: {
            "count": len(latencies),
            "p50_ms": statistics.median(latencies),
            "p99_ms": percentile(latencies, 0.99),
        }
        for label, latencies in runs
    }
    return {"bench": "medicine_search", "duration": duration, "runs": summary, "rows": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--pool", type=int, default=8)
    parser.add_argument("--rates", default="200,500", help="offered searches per second")
    args = parser.parse_args(argv)
    rates = [float(rate) for rate in args.rates.split(",") if rate]
    runs = searched(args.duration, args.concurrency, args.pool, rates)
    rows, met = [], True
    for label, latencies in runs:
        p99 = percentile(latencies, 0.99)
        verdict = "-"
        if label != "saturating":
            verdict = "met" if p99 < TARGET_P99_MS else "MISSED"
            met = met and p99 < TARGET_P99_MS
        rows.append(
            [
                label,
                len(latencies),
                f"{len(latencies) / args.duration:,.0f}",
                f"{statistics.median(latencies):.2f}",
                f"{percentile(latencies, 0.95):.2f}",
                f"{p99:.2f}",
                f"{max(latencies):.2f}",
                verdict,
            ]
        )
    headers = ["load", "searches", "per s", "p50 ms", "p95 ms", "p99 ms", "max ms", "p99 < 10 ms"]
    print(table(headers, rows))
    seconds = f"{args.duration:.0f} s each"
    print(f"# {args.concurrency} concurrent searchers, pool of {args.pool}, {seconds}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
