"""Migrations run from an empty database to head, back to base, and up again."""

from __future__ import annotations

import psycopg
from alembic import command

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
