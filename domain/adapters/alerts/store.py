"""Health alerts in PostgreSQL, inside the caller's transaction.

Raising is one statement: an INSERT whose ON CONFLICT targets the partial unique
index ``health_alerts_one_open`` (one not-resolved alert per patient and rule)
and updates that alert instead - one more occurrence, the latest time, the
higher severity (an escalation re-opens an acknowledged alert). Two readings
racing each other both land on the one row; ``xmax = 0`` tells the insert from
the update, and ``escalated_from`` (set by the update itself from the row's old
severity) tells an escalation, so neither needs a read before the write.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection, sql

from domain.adapters.keyset import cut_page, newest_first_filter
from domain.alerts.model import (
    Alert,
    AlertFilter,
    AlertPage,
    AlertStatus,
    AlertView,
    Breach,
    Severity,
    Upserted,
)
from domain.clock import Clock


def alert_from_row(row: dict[str, Any]) -> Alert:
    return Alert(
        id=row["id"],
        patient_id=row["patient_id"],
        rule=row["rule"],
        severity=Severity(row["severity"]),
        summary_code=row["summary_code"],
        status=AlertStatus(row["status"]),
        occurrences=row["occurrences"],
        first_at=row["first_at"],
        last_at=row["last_at"],
        escalated_from=Severity(row["escalated_from"]) if row["escalated_from"] else None,
        acknowledged_by=row["acknowledged_by"],
        acknowledged_at=row["acknowledged_at"],
        resolved_by=row["resolved_by"],
        resolved_at=row["resolved_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


class PgAlertRepository:
    def __init__(self, conn: AsyncConnection, clock: Clock) -> None:
        self._conn = conn
        self._clock = clock

    async def upsert(self, breach: Breach) -> Upserted:
        cursor = await self._conn.execute(
            """
            INSERT INTO health_alerts AS a (id, patient_id, rule, severity, severity_rank,
                summary_code, status, occurrences, first_at, last_at, created_at, updated_at)
            VALUES (%(id)s, %(patient)s, %(rule)s, %(severity)s, %(rank)s, %(code)s, 'open', 1,
                    %(at)s, %(at)s, %(now)s, %(now)s)
            ON CONFLICT (patient_id, rule) WHERE status <> 'resolved' DO UPDATE SET
                occurrences = a.occurrences + 1,
                first_at = least(a.first_at, excluded.first_at),
                last_at = greatest(a.last_at, excluded.last_at),
                escalated_from = CASE WHEN excluded.severity_rank > a.severity_rank
                                      THEN a.severity END,
                severity = CASE WHEN excluded.severity_rank > a.severity_rank
                                THEN excluded.severity ELSE a.severity END,
                summary_code = CASE WHEN excluded.severity_rank > a.severity_rank
                                    THEN excluded.summary_code ELSE a.summary_code END,
                status = CASE WHEN excluded.severity_rank > a.severity_rank
                              THEN 'open' ELSE a.status END,
                severity_rank = greatest(a.severity_rank, excluded.severity_rank),
                updated_at = excluded.updated_at
            RETURNING a.*, (xmax = 0) AS created
            """,
            {
                "id": uuid.uuid4(),
                "patient": breach.patient_id,
                "rule": breach.rule,
                "severity": breach.severity.value,
                "rank": breach.severity.rank,
                "code": breach.summary_code,
                "at": breach.at,
                "now": self._clock.now(),
            },
        )
        row = await cursor.fetchone()
        created = bool(row["created"])
        return Upserted(
            alert=alert_from_row(row),
            created=created,
            escalated=not created and row["escalated_from"] is not None,
        )

    async def get(self, alert_id: uuid.UUID, *, lock: bool = False) -> Alert | None:
        query = "SELECT * FROM health_alerts WHERE id = %s" + (" FOR UPDATE" if lock else "")
        cursor = await self._conn.execute(query, (alert_id,))
        row = await cursor.fetchone()
        return alert_from_row(row) if row else None

    async def move(
        self,
        alert_id: uuid.UUID,
        sources: frozenset[AlertStatus],
        target: AlertStatus,
        by: uuid.UUID,
    ) -> Alert | None:
        stamp = {
            AlertStatus.ACKNOWLEDGED: "acknowledged",
            AlertStatus.RESOLVED: "resolved",
        }[target]
        statement = sql.SQL(
            """
            UPDATE health_alerts
            SET status = %(target)s, {by} = %(by)s, {at} = %(now)s, updated_at = %(now)s
            WHERE id = %(id)s AND status = ANY(%(sources)s)
            RETURNING *
            """
        ).format(by=sql.Identifier(f"{stamp}_by"), at=sql.Identifier(f"{stamp}_at"))
        cursor = await self._conn.execute(
            statement,
            {
                "id": alert_id,
                "target": target.value,
                "by": by,
                "now": self._clock.now(),
                "sources": [status.value for status in sources],
            },
        )
        row = await cursor.fetchone()
        return alert_from_row(row) if row else None

    async def mark_read(self, alert_id: uuid.UUID, user_id: uuid.UUID) -> datetime:
        cursor = await self._conn.execute(
            """
            INSERT INTO health_alert_reads AS r (alert_id, user_id, read_at) VALUES (%s, %s, %s)
            ON CONFLICT (alert_id, user_id) DO UPDATE SET read_at = r.read_at
            RETURNING read_at
            """,
            (alert_id, user_id, self._clock.now()),
        )
        row = await cursor.fetchone()
        return row["read_at"]

    async def read_at(self, alert_id: uuid.UUID, user_id: uuid.UUID) -> datetime | None:
        cursor = await self._conn.execute(
            "SELECT read_at FROM health_alert_reads WHERE alert_id = %s AND user_id = %s",
            (alert_id, user_id),
        )
        row = await cursor.fetchone()
        return row["read_at"] if row else None

    async def page(self, query: AlertFilter) -> AlertPage:
        params: dict[str, Any] = {
            "limit": query.limit + 1,
            "statuses": sorted(status.value for status in query.statuses),
            "reader": query.reader,
        }
        clauses: list[sql.Composable] = [sql.SQL("a.status = ANY(%(statuses)s)")]
        if query.patient_id is not None:
            clauses.append(sql.SQL("a.patient_id = %(patient)s"))
            params["patient"] = query.patient_id
        if query.doctor_id is not None:
            clauses.append(
                sql.SQL(
                    "EXISTS (SELECT 1 FROM connections c WHERE c.patient_id = a.patient_id"
                    " AND c.doctor_id = %(doctor)s AND c.status = 'active')"
                )
            )
            params["doctor"] = query.doctor_id
        clauses += newest_first_filter(query.cursor, "a", params)
        statement = sql.SQL(
            """
            SELECT a.*, r.read_at AS reader_read_at
            FROM health_alerts a
            LEFT JOIN health_alert_reads r
                   ON r.alert_id = a.id AND r.user_id = %(reader)s
            WHERE {where}
            ORDER BY a.created_at DESC, a.id DESC
            LIMIT %(limit)s
            """
        ).format(where=sql.SQL(" AND ").join(clauses))
        cursor = await self._conn.execute(statement, params)
        rows = await cursor.fetchall()
        alerts, next_cursor = cut_page([alert_from_row(row) for row in rows], query.limit)
        read = {row["id"]: row["reader_read_at"] for row in rows}
        return AlertPage(
            items=[AlertView(alert=alert, read_at=read[alert.id]) for alert in alerts],
            next_cursor=next_cursor,
        )
