"""Job figures from tallies (migration 0011): after any mix of moves into and out of a final
status, and deletions, they are what counting every row says, each change counted once
whatever order its transaction commits in, and a backlog folded in bounded batches."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from domain.adapters.jobs import metrics
from domain.adapters.jobs.metrics import DURATION_BOUNDS, fold_changes, job_figures

FINAL = ("succeeded", "failed", "cancelled")
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def add_job(conn: psycopg.Connection, kind: str = "system.noop") -> uuid.UUID:
    job_id = uuid.uuid4()
    conn.execute(
        """
        INSERT INTO jobs (id, kind, queue, status, payload, max_attempts, owner_id,
                          run_after, created_at, updated_at)
        VALUES (%s, %s, 'default', 'queued', '{}', 3, 'owner', %s, %s, %s)
        """,
        (job_id, kind, T0, T0, T0),
    )
    return job_id


def move(conn: psycopg.Connection, job_id: uuid.UUID, status: str, seconds: float) -> None:
    """The row moved to ``status``; a first start keeps its time, an outcome ``seconds`` on."""
    conn.execute(
        """
        UPDATE jobs SET status = %(status)s,
               started_at = CASE WHEN %(status)s = 'running'
                                 THEN coalesce(started_at, %(t0)s) ELSE started_at END,
               finished_at = CASE WHEN %(status)s IN ('succeeded', 'failed', 'cancelled')
                                  THEN coalesce(started_at, %(t0)s) + %(took)s ELSE NULL END
        WHERE id = %(id)s
        """,
        {"status": status, "t0": T0, "took": timedelta(seconds=seconds), "id": job_id},
    )


def counted_from_rows(database_url: str) -> tuple[dict[tuple[str, str], int], list[Any]]:
    """The oracle: what scanning every row says (the scrape's queries before the tallies)."""
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        counts = {
            (row["kind"], row["status"]): row["n"]
            for row in conn.execute("SELECT kind, status, count(*) AS n FROM jobs GROUP BY 1, 2")
        }
        timed = conn.execute(
            """
            SELECT kind, status, extract(epoch FROM finished_at - started_at)::float8 AS s
            FROM jobs WHERE status IN ('succeeded', 'failed')
              AND started_at IS NOT NULL AND finished_at IS NOT NULL
            """
        ).fetchall()
    histograms = []
    for kind, status in sorted({(row["kind"], row["status"]) for row in timed}):
        seconds = [row["s"] for row in timed if (row["kind"], row["status"]) == (kind, status)]
        histograms.append(
            (
                kind,
                status,
                tuple(sum(1 for s in seconds if s <= bound) for bound in DURATION_BOUNDS),
                len(seconds),
                round(sum(seconds), 6),
            )
        )
    return counts, histograms


async def tallied(pool: Any) -> tuple[dict[tuple[str, str], int], list[Any]]:
    job_counts, durations = await job_figures(pool)
    counts = {(c.kind, c.status): c.count for c in job_counts if c.count}
    histograms = [
        (h.kind, h.status, h.buckets, h.count, round(h.total_seconds, 6))
        for h in durations
        if h.count
    ]
    return counts, histograms


async def test_figures_match_every_row_after_any_mix_of_moves_and_deletions(
    services, database_url
) -> None:
    rng = random.Random(16)
    paths = [
        ["running", "succeeded"],
        ["running", "failed"],
        ["running", "retrying", "running", "succeeded"],
        ["cancelled"],
        ["running", "failed", "queued", "running", "succeeded"],  # an operator's retry
        ["running", "failed", "queued"],  # retried, not yet run again
        ["running"],
        [],
    ]
    with psycopg.connect(database_url, autocommit=True) as conn:
        ids = []
        for n in range(120):
            job_id = add_job(conn, rng.choice(["system.noop", "email.send"]))
            for status in rng.choice(paths):
                move(conn, job_id, status, rng.choice([0.05, 0.3, 2.0, 45.0, 5000.0, 9000.0]))
            ids.append(job_id)
            if n == 60:  # a scrape half-way: later changes land on tallies already kept
                assert await tallied(services.pool) == counted_from_rows(database_url)
        doomed = rng.sample(ids, 30)  # retention, and a job deleted by hand
        conn.execute("DELETE FROM jobs WHERE id = ANY(%s)", (doomed,))

    figures = await tallied(services.pool)

    assert figures == counted_from_rows(database_url)
    assert figures[0][("system.noop", "succeeded")] > 0 and figures[1]
    assert rows_left(database_url) == 0  # every change folded, none kept twice


def rows_left(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM job_tally_changes").fetchone()
    assert row is not None
    return int(row[0])


async def test_a_change_is_counted_once_whatever_order_its_transaction_commits_in(
    services, database_url
) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        slow, quick = add_job(conn), add_job(conn)
    with psycopg.connect(database_url) as slow_writer:  # a transaction that commits late
        move(slow_writer, slow, "running", 1)
        move(slow_writer, slow, "succeeded", 1)
        with psycopg.connect(database_url, autocommit=True) as conn:
            move(conn, quick, "running", 1)
            move(conn, quick, "failed", 1)

        # a scrape now: the committed failure counts, the uncommitted success does not
        counts, _ = await tallied(services.pool)
        assert counts.get(("system.noop", "failed")) == 1
        assert ("system.noop", "succeeded") not in counts
        slow_writer.commit()

    assert await tallied(services.pool) == counted_from_rows(database_url)
    assert (await tallied(services.pool))[0][("system.noop", "succeeded")] == 1


async def test_scrapers_at_once_count_each_change_once(services, database_url) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        for _ in range(200):
            job_id = add_job(conn)
            move(conn, job_id, "running", 0.2)
            move(conn, job_id, "succeeded", 0.2)

    await asyncio.gather(*(job_figures(services.pool) for _ in range(4)))

    assert await tallied(services.pool) == counted_from_rows(database_url)
    assert (await tallied(services.pool))[0][("system.noop", "succeeded")] == 200


async def test_a_backlog_is_folded_in_batches_each_committed(
    services, database_url, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(metrics, "FOLD_BATCH", 10)
    with psycopg.connect(database_url, autocommit=True) as conn:
        for _ in range(35):
            move(conn, add_job(conn), "cancelled", 0)
    async with services.pool.connection() as conn:
        assert await fold_changes(conn) == 35
        assert await fold_changes(conn) == 0
    assert (await tallied(services.pool))[0] == {("system.noop", "cancelled"): 35}


async def test_a_rebuild_recounts_rows_loaded_without_triggers(services, database_url) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        move(conn, add_job(conn), "cancelled", 0)  # tallied by the trigger, then recounted
        conn.execute("SET session_replication_role = replica")  # a bulk load: no trigger
        for seconds in (0.3, 40.0, 8000.0):
            job_id = add_job(conn, "email.send")
            move(conn, job_id, "running", seconds)
            move(conn, job_id, "succeeded", seconds)
        conn.execute("SET session_replication_role = origin")
        assert (await tallied(services.pool)) != counted_from_rows(database_url)
        conn.execute("SELECT job_tallies_rebuild(%s)", (list(DURATION_BOUNDS),))

    assert await tallied(services.pool) == counted_from_rows(database_url)
    assert rows_left(database_url) == 0
