"""Reading the database behind the API's back: what was stored, and what the audit trail says."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row


def rows(database_url: str, query: str, params: Any = None) -> list[dict[str, Any]]:
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        return conn.execute(query, params).fetchall()


def chain_as_it_stands(database_url: str) -> list[dict[str, Any]]:
    """The audit events linked so far, in chain order, with nothing pending linked first."""
    return rows(database_url, "SELECT * FROM audit_events ORDER BY seq")


def link_pending_audit(database_url: str) -> None:
    """Link the committed audit events still pending, as every read of the trail through the
    platform does first: a request answers before its events are linked, behind it."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        while conn.execute("SELECT audit_chain_pending()").fetchone()[0]:
            pass


def audit_events(
    database_url: str, action: str | None = None, *, outcome: str | None = "success"
) -> list[dict[str, Any]]:
    """Audit events in chain order (pending ones linked first): by default the successful
    ones (refusals are audited too)."""
    link_pending_audit(database_url)
    return rows(
        database_url,
        """
        SELECT * FROM audit_events
        WHERE (%(action)s::text IS NULL OR action = %(action)s)
          AND (%(outcome)s::text IS NULL OR outcome = %(outcome)s)
        ORDER BY seq
        """,
        {"action": action, "outcome": outcome},
    )


def partition_names(database_url: str, parent: str) -> set[str]:
    """The names of the partitions of the table ``parent`` (its monthly tables, DEFAULT)."""
    found = rows(
        database_url,
        "SELECT inhrelid::regclass::text AS name FROM pg_inherits WHERE inhparent = %s::regclass",
        (parent,),
    )
    return {row["name"] for row in found}
