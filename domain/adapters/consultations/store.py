"""Consultations in PostgreSQL. The exclusion constraint ``consultations_no_double_booking``
is the last word on overlapping bookings: a losing insert (or re-booking) is a Conflict.

Finished consultations move to ``consultations_history`` (monthly partitions, migration 0605)
once they are old enough; every read that may meet one looks in both tables. The move
deletes a consultation from the live table and writes it, with its entry in
``consultations_history_lookup`` (its start, by id, payment and idempotency key: migration
0606), in one statement. A read by one of those (``_first``) asks the live table and the
lookup in one statement, so in one snapshot: the consultation is in one place or the other,
never missed. What a consultation shows is in the lookup too (0607), so a plain read ends
there; a locking read, or one of what only the history keeps, reads an archived one from
its month's partition alone, whatever the years of history (a locking read that waited for
a move looks again afresh). A list is one statement over the live table and the lookup:
UNION ALL, one snapshot, ordered by the same key, so keyset pages cross the boundary, and
no month of the history is read. Every write that changes a consultation's state goes to
the live table only: what is in the history is finished, except its notes, which its
doctor may still write.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from psycopg import AsyncConnection, errors, sql

from domain.adapters.cursors import decode_position, encode_position
from domain.consultations.model import (
    FINISHED,
    Consultation,
    ConsultationFilter,
    ConsultationPage,
    ConsultationStatus,
    Period,
)
from domain.errors import Conflict
from domain.phi.columns import CONSULTATION_NOTES
from domain.sealing import Cipher, Sealed

COLUMNS = (
    "id, patient_id, doctor_id, starts_at, ends_at, blocked_until, status, room, created_at,"
    " updated_at, hold_expires_at, payment_id"
)
# Everything a consultation's row holds, as it moves to the history.
STORED = (
    f"{COLUMNS}, idempotency_key, request_fingerprint, reminders_sent, notes_sealed, notes_key_id"
)
LIVE, HISTORY = "consultations", "consultations_history"
BOTH = (LIVE, HISTORY)
# id, payment, key -> starts_at (0606), and what a list shows (0607)
HISTORY_LOOKUP = "consultations_history_lookup"
# What the lookup keeps of a moved consultation.
LOOKUP_COLUMNS = f"{COLUMNS}, idempotency_key"
FINISHED_VALUES = sorted(status.value for status in FINISHED)
# One creator of history months at a time, whichever process runs the job.
HISTORY_MONTHS_LOCK = 0x4348_5354  # "CHST"
# Creating a partition locks the history's parent table; past this, the job retries later.
LOCK_TIMEOUT = "10s"


def month_of(moment: datetime) -> date:
    return moment.astimezone(UTC).date().replace(day=1)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def history_partition(month: date) -> str:
    return f"{HISTORY}_{month:%Y_%m}"


def located(table: str, where: str, params: tuple[Any, ...]) -> tuple[str, tuple[Any, ...]]:
    """``where`` (on columns the lookup has: id, patient_id, idempotency_key, payment_id) as a
    statement on ``table`` should say it, with its parameters. On the history, it is narrowed
    to the start the lookup holds for the same condition: a scalar subquery, whose value
    PostgreSQL prunes the history's months with as the statement runs (one partition read,
    however many months the history holds)."""
    if table != HISTORY:
        return where, params
    start = f"(SELECT lookup.starts_at FROM {HISTORY_LOOKUP} lookup WHERE {where} LIMIT 1)"
    return f"{where} AND starts_at = {start}", params + params


def consultation_from_row(row: dict[str, Any]) -> Consultation:
    return Consultation(
        id=row["id"],
        patient_id=row["patient_id"],
        doctor_id=row["doctor_id"],
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        blocked_until=row["blocked_until"],
        status=ConsultationStatus(row["status"]),
        room=row["room"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        hold_expires_at=row["hold_expires_at"],
        payment_id=row["payment_id"],
    )


def time_taken() -> Conflict:
    return Conflict("this time of the doctor's is taken", code="time_taken")


class PgConsultationRepository:
    def __init__(self, conn: AsyncConnection, cipher: Cipher) -> None:
        self._conn = conn
        self._cipher = cipher

    async def set_notes(self, consultation_id: uuid.UUID, notes: str) -> None:
        sealed = self._cipher.seal(notes.encode(), CONSULTATION_NOTES.context(consultation_id))
        for table in BOTH:  # the history's copy keeps the live place's context: it moved as is
            where, params = located(table, "id = %s", (consultation_id,))
            update = f"UPDATE {{}} SET notes_sealed = %s, notes_key_id = %s WHERE {where}"
            cursor = await self._conn.execute(
                sql.SQL(update).format(sql.Identifier(table)),
                (sealed.blob, sealed.key_id, *params),
            )
            if cursor.rowcount:
                return

    async def link_prescription(
        self, consultation_id: uuid.UUID, prescription_id: uuid.UUID, now: datetime
    ) -> bool:
        cursor = await self._conn.execute(
            """
            INSERT INTO consultation_prescriptions (consultation_id, prescription_id, linked_at)
            VALUES (%s, %s, %s) ON CONFLICT DO NOTHING RETURNING prescription_id
            """,
            (consultation_id, prescription_id, now),
        )
        return await cursor.fetchone() is not None

    async def prescriptions(self, consultation_id: uuid.UUID) -> list[uuid.UUID]:
        cursor = await self._conn.execute(
            "SELECT prescription_id FROM consultation_prescriptions WHERE consultation_id = %s"
            " ORDER BY linked_at, prescription_id",
            (consultation_id,),
        )
        return [row["prescription_id"] for row in await cursor.fetchall()]

    async def notes(self, consultation_id: uuid.UUID) -> str | None:
        row = await self._first("notes_sealed, notes_key_id", "id = %s", (consultation_id,))
        if row is None or row["notes_sealed"] is None:
            return None
        sealed = Sealed(key_id=row["notes_key_id"], blob=bytes(row["notes_sealed"]))
        return self._cipher.open(sealed, CONSULTATION_NOTES.context(consultation_id)).decode()

    async def add(
        self, consultation: Consultation, idempotency_key: str | None, fingerprint: bytes
    ) -> None:
        c = consultation
        try:
            async with self._conn.transaction():  # a savepoint: the caller's transaction lives on
                await self._conn.execute(
                    f"""
                    INSERT INTO consultations ({COLUMNS}, idempotency_key, request_fingerprint)
                    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                    """,
                    (
                        c.id,
                        c.patient_id,
                        c.doctor_id,
                        c.starts_at,
                        c.ends_at,
                        c.blocked_until,
                        c.status.value,
                        c.room,
                        c.created_at,
                        c.updated_at,
                        c.hold_expires_at,
                        c.payment_id,
                        idempotency_key,
                        fingerprint,
                    ),
                )
        except (errors.ExclusionViolation, errors.DeadlockDetected):
            # two holds of one time at once both wait on each other's row; PostgreSQL breaks
            # the tie by aborting one: the other has the time
            raise time_taken() from None
        except errors.UniqueViolation:
            raise Conflict(
                "a request with this Idempotency-Key is running", code="idempotency_key_race"
            ) from None

    async def _first(
        self, columns: str, where: str, params: tuple[Any, ...], lock: bool = False
    ) -> dict[str, Any] | None:
        """The row in the live table, else in the history.

        One statement reads the live row and, from the history's lookup, the start of an
        archived one: a move deletes the one and writes the other at once, so in that
        statement's snapshot a consultation is in one place or the other. Only if it is
        archived does a second statement read it, from its month's partition alone. A
        locking read that finds neither may have waited for a move (its lock is then taken
        on a row the move deleted, in a snapshot from before the move): it looks in the
        history again, in a statement of its own.
        """
        suffix = " FOR UPDATE" if lock else ""
        cursor = await self._conn.execute(
            f"""
            WITH live AS (SELECT true AS in_live, {columns} FROM {LIVE} WHERE {where}{suffix})
            SELECT live.*, (SELECT lookup.starts_at FROM {HISTORY_LOOKUP} lookup
                            WHERE {where} LIMIT 1) AS archived_start
            FROM (VALUES (1)) AS one LEFT JOIN live ON true
            """,
            params + params,
        )
        row = await cursor.fetchone()
        assert row is not None  # the one row of VALUES, live or not
        in_live, archived_start = row.pop("in_live"), row.pop("archived_start")
        if in_live:
            return row
        if archived_start is not None:
            where, params = f"{where} AND starts_at = %s", (*params, archived_start)
        elif lock:
            where, params = located(HISTORY, where, params)
        else:
            return None
        cursor = await self._conn.execute(
            f"SELECT {columns} FROM {HISTORY} WHERE {where}{suffix}", params
        )
        return await cursor.fetchone()

    async def _one(self, where: str, params: tuple[Any, ...], lock: bool) -> Consultation | None:
        if lock:
            row = await self._first(COLUMNS, where, params, lock=True)
        else:
            row = await self._shown(where, params)
        return consultation_from_row(row) if row else None

    async def _shown(self, where: str, params: tuple[Any, ...]) -> dict[str, Any] | None:
        """What a consultation shows, from the live table or else from the history's lookup,
        which keeps it whole (0607): one statement, one snapshot, no month of the history."""
        cursor = await self._conn.execute(
            f"(SELECT {COLUMNS} FROM {LIVE} WHERE {where})"
            f" UNION ALL (SELECT {COLUMNS} FROM {HISTORY_LOOKUP} WHERE {where}) LIMIT 1",
            params + params,
        )
        return await cursor.fetchone()

    async def get(self, consultation_id: uuid.UUID, *, lock: bool = False) -> Consultation | None:
        return await self._one("id = %s", (consultation_id,), lock)

    async def by_payment(self, payment_id: uuid.UUID, *, lock: bool = False) -> Consultation | None:
        return await self._one("payment_id = %s", (payment_id,), lock)

    async def by_key(
        self, patient_id: uuid.UUID, idempotency_key: str
    ) -> tuple[Consultation, bytes] | None:
        row = await self._first(
            f"{COLUMNS}, request_fingerprint",
            "patient_id = %s AND idempotency_key = %s",
            (patient_id, idempotency_key),
        )
        return (consultation_from_row(row), bytes(row["request_fingerprint"])) if row else None

    async def move(
        self,
        consultation_id: uuid.UUID,
        source: ConsultationStatus,
        target: ConsultationStatus,
        now: datetime,
    ) -> Consultation | None:
        try:
            async with self._conn.transaction():
                cursor = await self._conn.execute(
                    f"""
                    UPDATE consultations SET status = %s, updated_at = %s,
                        hold_expires_at = CASE WHEN %s = 'held' THEN hold_expires_at END
                    WHERE id = %s AND status = %s
                    RETURNING {COLUMNS}
                    """,
                    (target.value, now, target.value, consultation_id, source.value),
                )
                row = await cursor.fetchone()
        except (errors.ExclusionViolation, errors.DeadlockDetected):
            return None  # re-booking a released time someone else now holds
        return consultation_from_row(row) if row else None

    async def to_release(self, now: datetime, limit: int) -> Sequence[uuid.UUID]:
        cursor = await self._conn.execute(
            """
            SELECT c.id FROM consultations c LEFT JOIN payments p ON p.id = c.payment_id
            WHERE c.status = 'held'
              AND (c.hold_expires_at <= %s OR p.status IN ('failed', 'expired'))
            ORDER BY c.hold_expires_at
            LIMIT %s
            """,
            (now, limit),
        )
        return [row["id"] for row in await cursor.fetchall()]

    async def reschedule(
        self,
        consultation: Consultation,
        starts_at: datetime,
        ends_at: datetime,
        blocked_until: datetime,
        now: datetime,
    ) -> Consultation | None:
        try:
            async with self._conn.transaction():
                cursor = await self._conn.execute(
                    f"""
                    UPDATE consultations
                    SET starts_at = %s, ends_at = %s, blocked_until = %s, updated_at = %s,
                        reminders_sent = 0
                    WHERE id = %s AND status = %s AND starts_at = %s
                    RETURNING {COLUMNS}
                    """,
                    (
                        starts_at,
                        ends_at,
                        blocked_until,
                        now,
                        consultation.id,
                        consultation.status.value,
                        consultation.starts_at,
                    ),
                )
                row = await cursor.fetchone()
        except (errors.ExclusionViolation, errors.DeadlockDetected):
            raise time_taken() from None
        return consultation_from_row(row) if row else None

    async def to_remind(self, now: datetime, limit: int) -> Sequence[tuple[Consultation, int]]:
        cursor = await self._conn.execute(
            f"""
            SELECT {COLUMNS},
                   CASE WHEN starts_at <= %(now)s + interval '1 hour' THEN 2 ELSE 1 END AS due
            FROM consultations
            WHERE status = 'confirmed' AND reminders_sent < 2 AND starts_at > %(now)s
              AND ((reminders_sent = 0 AND starts_at <= %(now)s + interval '24 hours')
                   OR starts_at <= %(now)s + interval '1 hour')
            ORDER BY starts_at
            LIMIT %(limit)s
            """,
            {"now": now, "limit": limit},
        )
        return [(consultation_from_row(row), row["due"]) for row in await cursor.fetchall()]

    async def reminded(
        self, consultation_id: uuid.UUID, reminder: int, starts_at: datetime
    ) -> bool:
        cursor = await self._conn.execute(
            """
            UPDATE consultations SET reminders_sent = %s
            WHERE id = %s AND starts_at = %s AND reminders_sent < %s AND status = 'confirmed'
            RETURNING id
            """,
            (reminder, consultation_id, starts_at, reminder),
        )
        return await cursor.fetchone() is not None

    async def archive(self, finished_before: datetime, now: datetime, limit: int) -> int:
        """Lock a batch of finished consultations (passing over any another transaction holds:
        a consultation being changed stays for a later run), make sure their months exist in
        the history, and move them in one statement: deleted here, inserted there with their
        entries in the history's lookup."""
        cursor = await self._conn.execute(
            """
            SELECT id, starts_at FROM consultations
            WHERE status = ANY(%s) AND ends_at <= %s
            ORDER BY ends_at, id
            LIMIT %s
            FOR UPDATE SKIP LOCKED
            """,
            (FINISHED_VALUES, finished_before, limit),
        )
        batch = await cursor.fetchall()
        if not batch:
            return 0
        await self.history_months({month_of(row["starts_at"]) for row in batch})
        cursor = await self._conn.execute(
            f"""
            WITH moved AS (
                DELETE FROM consultations WHERE id = ANY(%s) AND status = ANY(%s)
                RETURNING {STORED}
            ), kept AS (
                INSERT INTO consultations_history ({STORED}, archived_at)
                SELECT {STORED}, %s FROM moved
            )
            INSERT INTO {HISTORY_LOOKUP} ({LOOKUP_COLUMNS})
            SELECT {LOOKUP_COLUMNS} FROM moved
            """,
            ([row["id"] for row in batch], FINISHED_VALUES, now),
        )
        return cursor.rowcount

    async def history_months(self, months: set[date]) -> list[str]:
        """Create the history's partitions of ``months`` that do not exist yet (their names)."""
        names = {history_partition(month): month for month in months}
        cursor = await self._conn.execute(
            "SELECT name FROM unnest(%s::text[]) AS name WHERE to_regclass(name) IS NULL",
            (sorted(names),),
        )
        missing = [row["name"] for row in await cursor.fetchall()]
        if not missing:
            return []
        await self._conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        await self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (HISTORY_MONTHS_LOCK,))
        for name in missing:
            start, end = (
                datetime(m.year, m.month, 1, tzinfo=UTC)
                for m in (names[name], next_month(names[name]))
            )
            await self._conn.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} PARTITION OF consultations_history"
                    " FOR VALUES FROM ({}) TO ({})"
                ).format(sql.Identifier(name), sql.Literal(start), sql.Literal(end))
            )
        return missing

    async def page(self, query: ConsultationFilter, now: datetime) -> ConsultationPage:
        upcoming = query.period is Period.UPCOMING
        params: dict[str, object] = {"now": now, "limit": query.limit + 1}
        where = [sql.SQL("ends_at > %(now)s" if upcoming else "ends_at <= %(now)s")]
        for column in ("party_id", "status", "patient_id", "doctor_id", "start", "end"):
            value = getattr(query, column)
            if value is not None:
                params[column] = value.value if column == "status" else value
                where.append(sql.SQL(_FILTERS[column]))
        if query.cursor is not None:
            at, row_id = decode_position(query.cursor)
            params.update(c_at=at, c_id=row_id)
            where.append(
                sql.SQL("(starts_at, id) {} (%(c_at)s, %(c_id)s)").format(
                    sql.SQL(">" if upcoming else "<")
                )
            )
        order = sql.SQL("ASC" if upcoming else "DESC")
        # The history holds what ended CONSULTATION_HISTORY_AFTER_DAYS ago: never upcoming.
        # Its lookup keeps every column a list shows, in indexes of the lists' order.
        tables = (LIVE,) if upcoming else (LIVE, HISTORY_LOOKUP)
        branches = [
            sql.SQL(
                "(SELECT {columns} FROM {table} WHERE {where}"
                " ORDER BY starts_at {order}, id {order} LIMIT %(limit)s)"
            ).format(
                columns=sql.SQL(COLUMNS),
                table=sql.Identifier(table),
                where=sql.SQL(" AND ").join(where),
                order=order,
            )
            for table in tables
        ]
        statement = sql.SQL(
            "SELECT * FROM ({branches}) AS found"
            " ORDER BY starts_at {order}, id {order} LIMIT %(limit)s"
        ).format(branches=sql.SQL(" UNION ALL ").join(branches), order=order)
        cursor = await self._conn.execute(statement, params)
        found = [consultation_from_row(row) for row in await cursor.fetchall()]
        items = found[: query.limit]
        more = len(found) > query.limit
        next_cursor = encode_position(items[-1].starts_at, items[-1].id) if more else None
        return ConsultationPage(items=items, next_cursor=next_cursor)


_FILTERS = {
    "party_id": "(patient_id = %(party_id)s OR doctor_id = %(party_id)s)",
    "status": "status = %(status)s",
    "patient_id": "patient_id = %(patient_id)s",
    "doctor_id": "doctor_id = %(doctor_id)s",
    "start": "starts_at >= %(start)s",
    "end": "starts_at < %(end)s",
}
