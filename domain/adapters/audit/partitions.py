"""Monthly audit partitions made ahead of time, and early arrivals moved out of the default one.

PostgreSQL refuses to create a month's partition while the DEFAULT partition
holds rows of that month (upkeep did not run in time, or a clock ran ahead).
Those rows are moved rather than refused: under the append lock, the default
partition is detached and set aside, a fresh default and the new months are
created, and every set-aside row is inserted again through the parent, which
routes it to its month. Rows are re-inserted unchanged, so the hash chain is
untouched; all of it is one transaction, so a failure leaves the table as it
was. The append-only trigger is never bypassed: nothing is updated or deleted,
the set-aside table is dropped only after its rows are back.

After that transaction has committed, the upkeep links any event still pending (its
writer stopped before chaining it), in transactions of its own: a chaining failure is
logged and leaves them to the next chaining, never undoes the partitions.
"""

from __future__ import annotations

from datetime import date

import structlog
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from domain.adapters.audit.log import AUDIT_CHAIN_LOCK, chain_pending
from domain.adapters.postgres import pooled
from domain.audit.ports import PartitionUpkeep
from domain.logging import exception_fields

log = structlog.get_logger(__name__)

DEFAULT_PARTITION = "audit_events_default"
SET_ASIDE = "audit_events_default_moving"
# DDL here waits for readers of audit_events; past this, give up and let the job retry.
LOCK_TIMEOUT = "10s"


def add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def partition_name(month: date) -> str:
    return f"audit_events_{month:%Y_%m}"


async def _missing(conn: AsyncConnection, first_month: date, months: int) -> list[date]:
    wanted = [add_months(first_month, i) for i in range(months)]
    cursor = await conn.execute(
        "SELECT name FROM unnest(%s::text[]) AS name WHERE to_regclass(name) IS NULL",
        ([partition_name(month) for month in wanted],),
    )
    absent = {row["name"] for row in await cursor.fetchall()}
    return [month for month in wanted if partition_name(month) in absent]


async def _early_arrivals(conn: AsyncConnection, months: list[date]) -> int:
    total = 0
    for month in months:
        cursor = await conn.execute(
            f"SELECT count(*) AS n FROM {DEFAULT_PARTITION} WHERE at >= %s AND at < %s",
            (month, add_months(month, 1)),
        )
        total += (await cursor.fetchone())["n"]
    return total


class PgAuditPartitions:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def ensure(self, first_month: date, months: int) -> PartitionUpkeep:
        first_month = first_month.replace(day=1)
        async with pooled(self._pool, transaction=True) as conn:
            await conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
            # Appends wait here, so none lands in the set-aside default meanwhile.
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (AUDIT_CHAIN_LOCK,))
            missing = await _missing(conn, first_month, months)
            moved = await _early_arrivals(conn, missing) if missing else 0
            if moved:
                await conn.execute(f"ALTER TABLE audit_events DETACH PARTITION {DEFAULT_PARTITION}")
                await conn.execute(f"ALTER TABLE {DEFAULT_PARTITION} RENAME TO {SET_ASIDE}")
                await conn.execute(
                    f"CREATE TABLE {DEFAULT_PARTITION} PARTITION OF audit_events DEFAULT"
                )
            await conn.execute("SELECT audit_ensure_partitions(%s, %s)", (first_month, months))
            if moved:
                await conn.execute(f"INSERT INTO audit_events SELECT * FROM {SET_ASIDE}")
                await conn.execute(f"DROP TABLE {SET_ASIDE}")
        try:  # events whose writer stopped before chaining them
            await chain_pending(self._pool)
        except Exception as exc:  # the partitions stand; the next chaining links them
            log.error("audit_chaining_failed", during="partition_upkeep", **exception_fields(exc))
        return PartitionUpkeep(created=[partition_name(month) for month in missing], moved=moved)
