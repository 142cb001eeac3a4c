"""Prescriptions, their items and history in PostgreSQL, inside the caller's transaction.

An item's details are sealed here (``prescription_items.details``, bound to the item's
id) and opened when read, so the domain holds them whole; so is a scanned prescription's
prescriber as printed (``prescriptions.prescriber``). Dates that jobs select on stay
in the clear: a prescription's end (``ends_on``) and the patient's time zone are enough
to find what has ended, without opening anything.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

import msgspec
from psycopg import AsyncConnection

from domain.adapters.keyset import cursor_after, position_of
from domain.phi.columns import PRESCRIPTION_ITEM_DETAILS, PRESCRIPTION_PRESCRIBER
from domain.prescriptions.model import (
    Item,
    ItemDetails,
    Prescription,
    PrescriptionEvent,
    PrescriptionSource,
    PrescriptionStatus,
)
from domain.sealing import Cipher, Sealed


class PgPrescriptionRepository:
    def __init__(self, conn: AsyncConnection, cipher: Cipher) -> None:
        self._conn = conn
        self._cipher = cipher

    def _item(self, row: dict[str, Any]) -> Item:
        sealed = Sealed(key_id=row["details_key_id"], blob=bytes(row["details_sealed"]))
        details = msgspec.json.decode(
            self._cipher.open(sealed, PRESCRIPTION_ITEM_DETAILS.context(row["id"])),
            type=ItemDetails,
        )
        return Item(
            id=row["id"],
            position=row["position"],
            starts_on=row["starts_on"],
            ends_on=row["ends_on"],
            as_needed=row["as_needed"],
            doses_until=row["doses_until"],
            details=details,
        )

    async def _items(self, prescription_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Item]]:
        cursor = await self._conn.execute(
            "SELECT * FROM prescription_items WHERE prescription_id = ANY(%s) ORDER BY position",
            (list(prescription_ids),),
        )
        found: dict[uuid.UUID, list[Item]] = {pid: [] for pid in prescription_ids}
        for row in await cursor.fetchall():
            found[row["prescription_id"]].append(self._item(row))
        return found

    def _prescriber(self, row: dict[str, Any]) -> str | None:
        if row["prescriber_sealed"] is None:
            return None
        sealed = Sealed(key_id=row["prescriber_key_id"], blob=bytes(row["prescriber_sealed"]))
        return self._cipher.open(sealed, PRESCRIPTION_PRESCRIBER.context(row["id"])).decode()

    async def _with_items(self, rows: list[dict[str, Any]]) -> list[Prescription]:
        items = await self._items([row["id"] for row in rows])
        return [
            Prescription(
                id=row["id"],
                patient_id=row["patient_id"],
                doctor_id=row["doctor_id"],
                status=PrescriptionStatus(row["status"]),
                starts_on=row["starts_on"],
                ends_on=row["ends_on"],
                items=tuple(items[row["id"]]),
                created_at=row["created_at"],
                updated_at=row["updated_at"],
                activated_at=row["activated_at"],
                source=PrescriptionSource(row["source"]),
                prescriber_as_printed=self._prescriber(row),
            )
            for row in rows
        ]

    async def _insert_items(self, prescription: Prescription) -> None:
        async with self._conn.cursor() as cursor:
            await cursor.executemany(
                """
                INSERT INTO prescription_items (id, prescription_id, position, starts_on, ends_on,
                                                as_needed, doses_until, details_sealed,
                                                details_key_id)
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
                """,
                [self._item_row(prescription.id, item) for item in prescription.items],
            )

    def _item_row(self, prescription_id: uuid.UUID, item: Item) -> tuple[Any, ...]:
        sealed = self._cipher.seal(
            msgspec.json.encode(item.details), PRESCRIPTION_ITEM_DETAILS.context(item.id)
        )
        return (
            item.id,
            prescription_id,
            item.position,
            item.starts_on,
            item.ends_on,
            item.as_needed,
            item.doses_until,
            sealed.blob,
            sealed.key_id,
        )

    async def add(self, prescription: Prescription) -> None:
        prescriber = (
            self._cipher.seal(
                prescription.prescriber_as_printed.encode(),
                PRESCRIPTION_PRESCRIBER.context(prescription.id),
            )
            if prescription.prescriber_as_printed is not None
            else None
        )
        await self._conn.execute(
            """
            INSERT INTO prescriptions (id, patient_id, doctor_id, status, starts_on, ends_on,
                                       created_at, updated_at, activated_at, source,
                                       prescriber_sealed, prescriber_key_id)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
            """,
            (
                prescription.id,
                prescription.patient_id,
                prescription.doctor_id,
                prescription.status.value,
                prescription.starts_on,
                prescription.ends_on,
                prescription.created_at,
                prescription.updated_at,
                prescription.activated_at,
                prescription.source.value,
                prescriber.blob if prescriber else None,
                prescriber.key_id if prescriber else None,
            ),
        )
        await self._insert_items(prescription)

    async def get(self, prescription_id: uuid.UUID, *, lock: bool = False) -> Prescription | None:
        query = "SELECT * FROM prescriptions WHERE id = %s" + (" FOR UPDATE" if lock else "")
        cursor = await self._conn.execute(query, (prescription_id,))
        rows = await cursor.fetchall()
        found = await self._with_items(rows)
        return found[0] if found else None

    async def replace_items(self, prescription: Prescription) -> None:
        await self._conn.execute(
            "UPDATE prescriptions SET starts_on = %s, ends_on = %s, updated_at = %s WHERE id = %s",
            (
                prescription.starts_on,
                prescription.ends_on,
                prescription.updated_at,
                prescription.id,
            ),
        )
        await self._conn.execute(
            "DELETE FROM prescription_items WHERE prescription_id = %s", (prescription.id,)
        )
        await self._insert_items(prescription)

    async def move(
        self,
        prescription_id: uuid.UUID,
        source: PrescriptionStatus,
        target: PrescriptionStatus,
        now: datetime,
    ) -> Prescription | None:
        cursor = await self._conn.execute(
            """
            UPDATE prescriptions
            SET status = %(target)s, updated_at = %(now)s,
                activated_at = CASE WHEN %(target)s = 'active' THEN %(now)s ELSE activated_at END
            WHERE id = %(id)s AND status = %(source)s
            RETURNING *
            """,
            {"id": prescription_id, "source": source.value, "target": target.value, "now": now},
        )
        rows = await cursor.fetchall()
        found = await self._with_items(rows)
        return found[0] if found else None

    async def record_event(self, prescription_id: uuid.UUID, event: PrescriptionEvent) -> None:
        await self._conn.execute(
            """
            INSERT INTO prescription_events (prescription_id, action, actor_id, from_status,
                                             to_status, changed_fields, at)
            VALUES (%s, %s, %s, %s, %s, %s, %s)
            """,
            (
                prescription_id,
                event.action,
                event.actor_id,
                event.from_status.value if event.from_status else None,
                event.to_status.value,
                list(event.changed_fields),
                event.at,
            ),
        )

    async def history(self, prescription_id: uuid.UUID) -> list[PrescriptionEvent]:
        cursor = await self._conn.execute(
            "SELECT * FROM prescription_events WHERE prescription_id = %s ORDER BY id",
            (prescription_id,),
        )
        return [
            PrescriptionEvent(
                action=row["action"],
                actor_id=row["actor_id"],
                from_status=PrescriptionStatus(row["from_status"]) if row["from_status"] else None,
                to_status=PrescriptionStatus(row["to_status"]),
                changed_fields=tuple(row["changed_fields"]),
                at=row["at"],
            )
            for row in await cursor.fetchall()
        ]

    async def page(
        self,
        patient_id: uuid.UUID,
        *,
        status: PrescriptionStatus | None,
        limit: int,
        cursor: str | None,
    ) -> tuple[list[Prescription], str | None]:
        params: dict[str, Any] = {
            "patient": patient_id,
            "status": status.value if status else None,
            "limit": limit + 1,
            "c_at": None,
            "c_id": None,
        }
        if cursor is not None:
            position = position_of(cursor)
            params.update(c_at=position.created_at, c_id=position.id)
        result = await self._conn.execute(
            """
            SELECT * FROM prescriptions
            WHERE patient_id = %(patient)s
                  AND (%(status)s::text IS NULL OR status = %(status)s)
                  AND (%(c_at)s::timestamptz IS NULL
                       OR (created_at, id) < (%(c_at)s, %(c_id)s::uuid))
            ORDER BY created_at DESC, id DESC
            LIMIT %(limit)s
            """,
            params,
        )
        rows = await result.fetchall()
        found = await self._with_items(rows[:limit])
        more = len(rows) > limit
        return found, cursor_after(found[-1]) if more else None

    async def active_items(
        self, patient_id: uuid.UUID, *, excluding: uuid.UUID | None = None
    ) -> list[Item]:
        cursor = await self._conn.execute(
            """
            SELECT i.* FROM prescription_items i JOIN prescriptions p ON p.id = i.prescription_id
            WHERE p.patient_id = %s AND p.status = 'active' AND p.id IS DISTINCT FROM %s
            ORDER BY p.id, i.position
            """,
            (patient_id, excluding),
        )
        return [self._item(row) for row in await cursor.fetchall()]

    async def ended(self, now: datetime, limit: int) -> list[Prescription]:
        """Past the end of its last day in the patient's zone: ``ends_on + 1`` at local midnight."""
        cursor = await self._conn.execute(
            """
            SELECT p.* FROM prescriptions p
            LEFT JOIN patient_profiles pp ON pp.user_id = p.patient_id
            WHERE p.status IN ('draft', 'active')
                  AND p.ends_on < %(today_utc_plus)s
                  AND ((p.ends_on + 1)::timestamp AT TIME ZONE coalesce(pp.time_zone, 'UTC'))
                      <= %(now)s
            ORDER BY p.ends_on
            LIMIT %(limit)s
            FOR UPDATE OF p SKIP LOCKED
            """,
            # no zone is more than a day ahead of UTC: a cheap bound the index can use
            {"now": now, "today_utc_plus": now.date() + timedelta(days=1), "limit": limit},
        )
        return await self._with_items(await cursor.fetchall())

    async def needing_doses(
        self, now: datetime, horizon_days: int, limit: int, after: uuid.UUID | None = None
    ) -> list[Prescription]:
        cursor = await self._conn.execute(
            """
            SELECT p.* FROM prescriptions p
            WHERE p.status = 'active' AND (%(after)s::uuid IS NULL OR p.id > %(after)s)
                  AND EXISTS (
                SELECT 1 FROM prescription_items i
                WHERE i.prescription_id = p.id AND NOT i.as_needed
                      AND coalesce(i.doses_until, i.starts_on - 1) < i.ends_on
                      AND coalesce(i.doses_until, i.starts_on - 1) < %(horizon)s)
            ORDER BY p.id
            LIMIT %(limit)s
            FOR UPDATE OF p SKIP LOCKED
            """,
            # a day's slack for zones ahead of UTC: the use case clips to the patient's day
            {
                "horizon": now.date() + timedelta(days=horizon_days + 1),
                "limit": limit,
                "after": after,
            },
        )
        return await self._with_items(await cursor.fetchall())

    async def set_doses_until(self, item_id: uuid.UUID, until: date) -> None:
        await self._conn.execute(
            "UPDATE prescription_items SET doses_until = %s WHERE id = %s", (until, item_id)
        )

    async def of_patient(
        self, patient_id: uuid.UUID, statuses: Sequence[PrescriptionStatus]
    ) -> list[Prescription]:
        cursor = await self._conn.execute(
            "SELECT * FROM prescriptions WHERE patient_id = %s AND status = ANY(%s) "
            "ORDER BY created_at FOR UPDATE",
            (patient_id, [status.value for status in statuses]),
        )
        return await self._with_items(await cursor.fetchall())
