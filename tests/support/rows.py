"""Reading the database behind the API's back: what was stored, and what the audit trail says."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row


def rows(database_url: str, query: str, params: Any = None) -> list[dict[str, Any]]:
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        return conn.execute(query, params).fetchall()


def audit_events(
    database_url: str, action: str | None = None, *, outcome: str | None = "success"
) -> list[dict[str, Any]]:
    """Audit events in chain order: by default the successful ones (refusals are audited too)."""
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
