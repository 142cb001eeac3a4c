"""Job history and tally changes written once a statement (migration 0013): a statement that
moves many jobs at once, in different directions, leaves exactly the rows one row trigger
a job left before."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import psycopg

from domain.adapters.jobs.store import HOT_WRITE

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def add_jobs(conn: psycopg.Connection, statuses: list[str]) -> list[uuid.UUID]:
    """One INSERT of a job in each of ``statuses`` (a final one as a bulk import would)."""
    ids = [uuid.uuid4() for _ in statuses]
    conn.execute(
        """
        INSERT INTO jobs (id, kind, queue, status, payload, max_attempts, owner_id, error,
                          run_after, created_at, updated_at, started_at, finished_at)
        SELECT id, 'system.noop', 'default', status, '{}', 3, 'owner',
               CASE WHEN status = 'failed' THEN '{"code": "x", "message": "y"}'::jsonb END,
               %(t0)s, %(t0)s, %(t0)s,
               CASE WHEN status IN ('succeeded', 'failed') THEN %(t0)s END,
               CASE WHEN status IN ('succeeded', 'failed') THEN %(t0)s + interval '2s' END
        FROM unnest(%(ids)s::uuid[], %(statuses)s::text[]) AS j(id, status)
        """,
        {"ids": ids, "statuses": statuses, "t0": T0},
    )
    return ids


def events(conn: psycopg.Connection, job_id: uuid.UUID) -> list[tuple]:
    return conn.execute(
        "SELECT from_status, to_status, attempt, error IS NOT NULL FROM job_events "
        "WHERE job_id = %s ORDER BY id",
        (job_id,),
    ).fetchall()


def tally_changes(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute(
        "SELECT status, seconds, change FROM job_tally_changes ORDER BY status, change, seconds"
    ).fetchall()


def test_an_insert_of_many_jobs_records_each_and_tallies_the_final_ones(database_url) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        queued, done, failed = add_jobs(conn, ["queued", "succeeded", "failed"])
        assert events(conn, queued) == [(None, "queued", 0, False)]
        assert events(conn, done) == [(None, "succeeded", 0, False)]
        assert events(conn, failed) == [(None, "failed", 0, True)]
        assert tally_changes(conn) == [("failed", 2.0, 1), ("succeeded", 2.0, 1)]


def test_one_statement_moving_jobs_every_way_records_only_the_moves(database_url) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        to_cancel, to_fail, to_beat, to_retry_again = add_jobs(
            conn, ["queued", "queued", "queued", "failed"]
        )
        conn.execute("DELETE FROM job_tally_changes")
        conn.execute(
            """
            UPDATE jobs SET
                status = CASE id WHEN %(cancel)s THEN 'cancelled' WHEN %(fail)s THEN 'failed'
                                 WHEN %(again)s THEN 'queued' ELSE status END,
                error = CASE WHEN id = %(fail)s THEN '{"code": "x", "message": "y"}'::jsonb
                             ELSE error END,
                heartbeat_at = %(t0)s, updated_at = %(t0)s + interval '1s'
            WHERE id = ANY(%(ids)s)
            """,
            {
                "cancel": to_cancel,
                "fail": to_fail,
                "again": to_retry_again,
                "t0": T0,
                "ids": [to_cancel, to_fail, to_beat, to_retry_again],
            },
        )
        assert events(conn, to_cancel)[1:] == [("queued", "cancelled", 0, False)]
        assert events(conn, to_fail)[1:] == [("queued", "failed", 0, True)]
        assert events(conn, to_beat)[1:] == []  # its status did not change
        assert events(conn, to_retry_again)[1:] == [("failed", "queued", 0, False)]
        at = conn.execute(
            "SELECT at FROM job_events WHERE job_id = %s ORDER BY id DESC LIMIT 1", (to_fail,)
        ).fetchone()
        assert at == (T0 + timedelta(seconds=1),)  # the row's updated_at
        # no duration where a job never started; the one retried by hand leaves "failed"
        assert tally_changes(conn) == [
            ("cancelled", None, 1),
            ("failed", 2.0, -1),
            ("failed", None, 1),
        ]


def test_the_hot_paths_statement_claiming_some_and_finishing_others_records_both(
    database_url,
) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        claimed_first, claimed_now = add_jobs(conn, ["queued", "queued"])
        now = T0 + timedelta(seconds=5)

        def hot_write(ops: list[dict]) -> None:
            conn.execute(HOT_WRITE, {"ops": json.dumps(ops), "now": now})

        hot_write([{"id": str(claimed_first), "attempt": None, "result": None}])
        hot_write(
            [
                {"id": str(claimed_now), "attempt": None, "result": None},
                {"id": str(claimed_first), "attempt": 1, "result": {"ok": True}},
            ]
        )
        assert events(conn, claimed_first) == [
            (None, "queued", 0, False),
            ("queued", "running", 1, False),
            ("running", "succeeded", 1, False),
        ]
        assert events(conn, claimed_now) == [
            (None, "queued", 0, False),
            ("queued", "running", 1, False),
        ]
        assert tally_changes(conn) == [("succeeded", 0.0, 1)]


def test_a_delete_of_many_jobs_takes_the_final_ones_off_the_tallies(database_url) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        ids = add_jobs(conn, ["succeeded", "queued", "failed"])
        conn.execute("DELETE FROM job_tally_changes")
        conn.execute("DELETE FROM jobs WHERE id = ANY(%s)", (ids,))
        assert tally_changes(conn) == [("failed", 2.0, -1), ("succeeded", 2.0, -1)]
