"""Adherence in PostgreSQL: set-based roll-ups of changed days, and the reads over them."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from psycopg import AsyncConnection

from domain.adapters.cursors import decode_risk, encode_risk
from domain.adherence.jobs import ADHERENCE_ROLLUP
from domain.adherence.model import Granularity, Tally
from domain.adherence.ports import AtRisk, AtRiskPage, RiskSignal, RollUp

ROLLUP_LOCK = 0x4850_4144  # "HPAD": one roll-up at a time (a later snapshot must win)
NOTHING_DUE_KEY = 2_000_000  # after every real adherence key (at most 1_000_000)
SETTLED = ("taken", "skipped", "missed")
MAX_STREAK_LOOKBACK = 10

_BUCKET = {
    Granularity.DAY: "day",
    Granularity.WEEK: "day - (extract(isodow FROM day)::int - 1)",
    Granularity.MONTH: "date_trunc('month', day)::date",
}
_TALLY_COLUMNS = """
    sum(due)::int AS due, sum(taken)::int AS taken, sum(late)::int AS late,
    sum(skipped)::int AS skipped, sum(missed)::int AS missed,
    count(*) FILTER (WHERE due > 0)::int AS days_due,
    count(*) FILTER (WHERE due > 0 AND taken = due)::int AS days_covered
"""
# One row per (patient, day) across prescriptions: a day is covered when all its doses were.
_PATIENT_DAYS = """
    SELECT patient_id, day, sum(due) AS due, sum(taken) AS taken, sum(late) AS late,
           sum(skipped) AS skipped, sum(missed) AS missed
    FROM adherence_days
"""


def _tally(row: dict[str, Any]) -> Tally:
    return Tally(
        due=row["due"] or 0,
        taken=row["taken"] or 0,
        late=row["late"] or 0,
        skipped=row["skipped"] or 0,
        missed=row["missed"] or 0,
        days_due=row["days_due"] or 0,
        days_covered=row["days_covered"] or 0,
    )


class PgAdherenceStore:
    def __init__(self, conn: AsyncConnection[Any]) -> None:
        self._conn = conn

    async def roll_up(self, limit: int) -> RollUp:
        await self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (ROLLUP_LOCK,))
        cursor = await self._conn.execute(
            """
            WITH picked AS (
                DELETE FROM adherence_changes WHERE id IN (
                    SELECT id FROM adherence_changes ORDER BY id LIMIT %(limit)s)
                RETURNING patient_id, day
            ), windows AS (
                SELECT DISTINCT patient_id, day FROM picked
            ), fresh AS (
                SELECT d.patient_id, d.local_date AS day, d.prescription_id,
                       count(*) AS due,
                       count(*) FILTER (WHERE d.status = 'taken') AS taken,
                       count(*) FILTER (WHERE d.status = 'taken' AND d.late) AS late,
                       count(*) FILTER (WHERE d.status = 'skipped') AS skipped,
                       count(*) FILTER (WHERE d.status = 'missed') AS missed
                FROM doses d
                JOIN windows w ON d.patient_id = w.patient_id AND d.local_date = w.day
                WHERE d.status = ANY(%(settled)s)
                GROUP BY d.patient_id, d.local_date, d.prescription_id
            ), stale AS (
                DELETE FROM adherence_days a USING windows w
                WHERE a.patient_id = w.patient_id AND a.day = w.day
                  AND NOT EXISTS (SELECT 1 FROM fresh f
                                  WHERE f.patient_id = a.patient_id AND f.day = a.day
                                    AND f.prescription_id = a.prescription_id)
            ), saved AS (
                INSERT INTO adherence_days
                    (patient_id, day, prescription_id, due, taken, late, skipped, missed)
                SELECT patient_id, day, prescription_id, due, taken, late, skipped, missed
                FROM fresh
                ON CONFLICT (patient_id, day, prescription_id) DO UPDATE
                SET due = EXCLUDED.due, taken = EXCLUDED.taken, late = EXCLUDED.late,
                    skipped = EXCLUDED.skipped, missed = EXCLUDED.missed
            )
            SELECT (SELECT count(*) FROM picked)::int AS changes,
                   (SELECT count(*) FROM windows)::int AS windows,
                   ARRAY(SELECT DISTINCT patient_id FROM windows) AS patients
            """,
            {"limit": limit, "settled": list(SETTLED)},
        )
        row = await cursor.fetchone()
        assert row is not None
        return RollUp(
            changes=row["changes"], windows=row["windows"], patients=frozenset(row["patients"])
        )

    async def rollup_needed(self) -> bool:
        cursor = await self._conn.execute(
            """
            SELECT EXISTS (SELECT 1 FROM adherence_changes)
               AND NOT EXISTS (SELECT 1 FROM jobs WHERE kind = %s
                               AND status IN ('queued', 'running', 'retrying')) AS needed
            """,
            (ADHERENCE_ROLLUP.name,),
        )
        row = await cursor.fetchone()
        return bool(row and row["needed"])

    async def tallies(
        self,
        patient_id: uuid.UUID,
        first: date,
        last: date,
        granularity: Granularity,
        prescription_id: uuid.UUID | None,
    ) -> dict[date, Tally]:
        cursor = await self._conn.execute(
            f"""
            WITH days AS (
                {_PATIENT_DAYS}
                WHERE patient_id = %(patient)s AND day BETWEEN %(first)s AND %(last)s
                  AND (%(prescription)s::uuid IS NULL OR prescription_id = %(prescription)s)
                GROUP BY patient_id, day
            )
            SELECT {_BUCKET[granularity]} AS bucket, {_TALLY_COLUMNS}
            FROM days GROUP BY 1
            """,
            {"patient": patient_id, "first": first, "last": last, "prescription": prescription_id},
        )
        return {row["bucket"]: _tally(row) for row in await cursor.fetchall()}

    async def risk_signals(
        self, patient_ids: frozenset[uuid.UUID], since: date
    ) -> list[RiskSignal]:
        cursor = await self._conn.execute(
            f"""
            WITH wanted AS (SELECT unnest(%(patients)s::uuid[]) AS patient_id),
            days AS (
                {_PATIENT_DAYS}
                WHERE patient_id = ANY(%(patients)s) AND day >= %(since)s
                GROUP BY patient_id, day
            ), recent AS (
                SELECT patient_id, {_TALLY_COLUMNS} FROM days GROUP BY patient_id
            )
            SELECT w.patient_id, r.due, r.taken, r.late, r.skipped, r.missed, r.days_due,
                   r.days_covered, coalesce(streak.missed_in_a_row, 0) AS missed_in_a_row
            FROM wanted w
            LEFT JOIN recent r USING (patient_id)
            LEFT JOIN LATERAL (
                SELECT count(*)::int AS missed_in_a_row FROM (
                    SELECT bool_and(d.status = 'missed') OVER (ORDER BY d.due_at DESC)
                           AS all_missed
                    FROM doses d
                    WHERE d.patient_id = w.patient_id AND d.status = ANY(%(settled)s)
                    ORDER BY d.due_at DESC LIMIT %(lookback)s
                ) newest WHERE all_missed
            ) streak ON true
            """,
            {
                "patients": list(patient_ids),
                "since": since,
                "settled": list(SETTLED),
                "lookback": MAX_STREAK_LOOKBACK,
            },
        )
        return [
            RiskSignal(
                patient_id=row["patient_id"],
                recent=_tally(row),
                missed_in_a_row=row["missed_in_a_row"],
            )
            for row in await cursor.fetchall()
        ]

    async def at_risk(
        self, doctor_id: uuid.UUID, since: date, cursor: str | None, limit: int
    ) -> AtRiskPage:
        after = decode_risk(cursor) if cursor is not None else None
        found = await self._conn.execute(
            f"""
            WITH mine AS (
                SELECT DISTINCT patient_id FROM connections
                WHERE doctor_id = %(doctor)s AND status = 'active' AND patient_id IS NOT NULL
            ), days AS (
                {_PATIENT_DAYS}
                WHERE patient_id IN (SELECT patient_id FROM mine) AND day >= %(since)s
                GROUP BY patient_id, day
            ), recent AS (
                SELECT patient_id, {_TALLY_COLUMNS} FROM days GROUP BY patient_id
            ), alerts AS (
                SELECT patient_id, count(*)::int AS open_alerts,
                       (array_agg(severity ORDER BY severity_rank DESC))[1] AS top_severity,
                       max(last_at) AS last_alert_at
                FROM health_alerts
                WHERE patient_id IN (SELECT patient_id FROM mine) AND status <> 'resolved'
                GROUP BY patient_id
            ), ranked AS (
                SELECT m.patient_id, r.due, r.taken, r.late, r.skipped, r.missed, r.days_due,
                       r.days_covered, coalesce(a.open_alerts, 0) AS open_alerts,
                       a.top_severity, a.last_alert_at,
                       CASE WHEN coalesce(r.due, 0) = 0 THEN %(nothing_due)s
                            ELSE (r.taken::bigint * 1000000) / r.due END AS adherence_key
                FROM mine m
                LEFT JOIN recent r USING (patient_id)
                LEFT JOIN alerts a USING (patient_id)
            )
            SELECT * FROM ranked
            WHERE %(after)s::boolean IS NOT TRUE
               OR (adherence_key, -open_alerts, patient_id)
                  > (%(key)s, -%(alerts)s::int, %(patient)s::uuid)
            ORDER BY adherence_key, -open_alerts, patient_id
            LIMIT %(limit)s
            """,
            {
                "doctor": doctor_id,
                "since": since,
                "nothing_due": NOTHING_DUE_KEY,
                "after": after is not None,
                "key": after[0] if after else 0,
                "alerts": after[1] if after else 0,
                "patient": after[2] if after else uuid.UUID(int=0),
                "limit": limit + 1,
            },
        )
        rows = await found.fetchall()
        items = [
            AtRisk(
                patient_id=row["patient_id"],
                recent=_tally(row),
                open_alerts=row["open_alerts"],
                top_severity=row["top_severity"],
                last_alert_at=row["last_alert_at"],
            )
            for row in rows[:limit]
        ]
        following = None
        if len(rows) > limit:
            last = rows[limit - 1]
            following = encode_risk(last["adherence_key"], last["open_alerts"], last["patient_id"])
        return AtRiskPage(items=items, next_cursor=following)
