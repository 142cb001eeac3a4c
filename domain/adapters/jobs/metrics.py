"""Job figures for monitoring, read from the jobs table when metrics are scraped.

Computed from the rows each time rather than counted in process memory, so
every API replica reports the same truth, and a restart loses nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from domain.adapters.postgres import pooled
from domain.monitoring.ports import DurationHistogram, JobCount

# Job durations span milliseconds (a no-op) to hours (an e-mail on its last retry).
DURATION_BOUNDS: tuple[float, ...] = (
    0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0,
)  # fmt: skip


_FINISHED = """
    SELECT kind, status, extract(epoch FROM finished_at - started_at)::float8 AS seconds
    FROM jobs
    WHERE status IN ('succeeded', 'failed')
      AND started_at IS NOT NULL AND finished_at IS NOT NULL
"""


async def job_counts(pool: AsyncConnectionPool) -> list[JobCount]:
    async with pooled(pool) as conn:
        cursor = await conn.execute(
            "SELECT kind, status, count(*) AS n FROM jobs GROUP BY kind, status ORDER BY 1, 2"
        )
        rows = await cursor.fetchall()
    return [JobCount(kind=row["kind"], status=row["status"], count=row["n"]) for row in rows]


async def job_durations(
    pool: AsyncConnectionPool, bounds: Sequence[float] = DURATION_BOUNDS
) -> list[DurationHistogram]:
    """Time from a job's first start to its final outcome, retries included; one table scan."""
    bounds = tuple(sorted(float(bound) for bound in bounds))
    per_bucket = sql.SQL(", ").join(
        sql.SQL("count(*) FILTER (WHERE seconds <= {})").format(sql.Literal(bound))
        for bound in bounds
    )
    query = sql.SQL(
        """
        SELECT kind, status, count(*) AS n, coalesce(sum(seconds), 0)::float8 AS total,
               ARRAY[{}]::bigint[] AS buckets
        FROM ({}) AS finished
        GROUP BY kind, status ORDER BY 1, 2
        """
    ).format(per_bucket, sql.SQL(_FINISHED))
    async with pooled(pool) as conn:
        cursor = await conn.execute(query)
        rows = await cursor.fetchall()
    return [
        DurationHistogram(
            kind=row["kind"],
            status=row["status"],
            bounds=bounds,
            buckets=tuple(row["buckets"]),
            count=row["n"],
            total_seconds=row["total"],
        )
        for row in rows
    ]
