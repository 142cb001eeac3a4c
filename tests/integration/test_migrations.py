"""Migrations run from an empty database to head, back to base, and up again; and what 0006
does to e-mails stored in the clear before it."""

from __future__ import annotations

import uuid

import psycopg
from alembic import command
from psycopg.rows import dict_row

from tests.support.databases import (
    alembic_config,
    create_database,
    database_url_for,
    drop_database,
)


def tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
    return {name for (name,) in rows}


def test_upgrade_downgrade_upgrade(servers) -> None:
    name = create_database(servers.admin_database_url)
    url = database_url_for(servers.admin_database_url, name)
    try:
        config = alembic_config(url)
        command.upgrade(config, "head")
        assert {"jobs", "job_events", "email_messages"} <= tables(url)
        command.downgrade(config, "base")
        assert tables(url) <= {"alembic_version"}
        command.upgrade(config, "head")
        assert {"jobs", "job_events", "email_messages"} <= tables(url)
    finally:
        drop_database(servers.admin_database_url, name)


def columns(url: str, table: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s", (table,)
        ).fetchall()
    return {name for (name,) in rows}


PLAINTEXT = {"to_address", "data"}
SEALED = {"to_address_sealed", "to_address_key_id", "data_sealed", "data_key_id"}


def add_plaintext_email(conn: psycopg.Connection, status: str) -> uuid.UUID:
    """An e-mail job as revision 0005 stored it: the address and data in the clear."""
    job_id = uuid.uuid4()
    conn.execute(
        """
        INSERT INTO jobs (id, kind, queue, status, payload, max_attempts, owner_id,
                          run_after, created_at, updated_at)
        VALUES (%s, 'email.send', 'email', %s, '{}', 5, 'admin-1', now(), now(), now())
        """,
        (job_id, status),
    )
    conn.execute(
        """
        INSERT INTO email_messages (id, job_id, to_address, template, data, message_id, created_at)
        VALUES (%s, %s, 'sokha@example.org', 'welcome', '{"name": "Sokha"}', %s, now())
        """,
        (uuid.uuid4(), job_id, f"<job-{job_id}@healthplat.test>"),
    )
    return job_id


def test_plaintext_emails_are_dropped_and_their_pending_jobs_failed(servers) -> None:
    """0006 cannot seal what 0005 stored in the clear (a migration holds no keys)."""
    name = create_database(servers.admin_database_url)
    url = database_url_for(servers.admin_database_url, name)
    statuses = ["queued", "running", "retrying", "succeeded", "failed", "cancelled"]
    try:
        config = alembic_config(url)
        command.upgrade(config, "0005")
        with psycopg.connect(url) as conn:
            jobs = {status: add_plaintext_email(conn, status) for status in statuses}

        command.upgrade(config, "0006")

        assert columns(url, "email_messages") & (PLAINTEXT | SEALED) == SEALED
        with psycopg.connect(url, row_factory=dict_row) as conn:
            assert conn.execute("SELECT * FROM email_messages").fetchall() == []
            found = conn.execute("SELECT id, status, error FROM jobs").fetchall()
            events = conn.execute(
                "SELECT from_status, to_status FROM job_events WHERE from_status IS NOT NULL"
            ).fetchall()
        now = {row["id"]: (row["status"], row["error"] and row["error"]["code"]) for row in found}
        dropped = "email_dropped_by_migration"
        assert now == {
            jobs["queued"]: ("failed", dropped),
            jobs["running"]: ("failed", dropped),
            jobs["retrying"]: ("failed", dropped),
            jobs["succeeded"]: ("succeeded", None),
            jobs["failed"]: ("failed", None),
            jobs["cancelled"]: ("cancelled", None),
        }
        assert sorted((e["from_status"], e["to_status"]) for e in events) == [
            ("queued", "failed"),
            ("retrying", "failed"),
            ("running", "failed"),
        ]

        command.downgrade(config, "0005")
        assert columns(url, "email_messages") & (PLAINTEXT | SEALED) == PLAINTEXT
    finally:
        drop_database(servers.admin_database_url, name)
