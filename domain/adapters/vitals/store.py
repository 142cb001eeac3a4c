"""Vital-sign readings in PostgreSQL, inside the caller's transaction; measurements sealed.

The type and the time a reading was measured stay in the clear (lists filter and
sort on them); the values are sealed as JSON, bound to their row.
"""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from psycopg import AsyncConnection, sql

from domain.adapters.cursors import decode_position, encode_position
from domain.phi.columns import VITAL_MEASUREMENT
from domain.sealing import Cipher, Sealed
from domain.vitals.model import Measurement, Reading, ReadingFilter, ReadingPage, Recorder


class PgReadingRepository:
    def __init__(self, conn: AsyncConnection, cipher: Cipher) -> None:
        self._conn = conn
        self._cipher = cipher

    def _reading(self, row: dict[str, Any]) -> Reading:
        sealed = Sealed(key_id=row["measurement_key_id"], blob=bytes(row["measurement_sealed"]))
        opened = self._cipher.open(sealed, VITAL_MEASUREMENT.context(row["id"]))
        return Reading(
            id=row["id"],
            patient_id=row["patient_id"],
            measurement=msgspec.json.decode(opened, type=Measurement),
            measured_at=row["measured_at"],
            recorded_by=row["recorded_by"],
            recorder=Recorder(row["recorder"]),
            created_at=row["created_at"],
        )

    async def add(self, reading: Reading) -> None:
        sealed = self._cipher.seal(
            msgspec.json.encode(reading.measurement), VITAL_MEASUREMENT.context(reading.id)
        )
        await self._conn.execute(
            """
            INSERT INTO vital_readings (id, patient_id, type, measured_at, recorded_by, recorder,
                                        measurement_sealed, measurement_key_id, created_at)
            VALUES (%(id)s, %(patient)s, %(type)s, %(at)s, %(by)s, %(recorder)s,
                    %(blob)s, %(key)s, %(created)s)
            """,
            {
                "id": reading.id,
                "patient": reading.patient_id,
                "type": reading.type.value,
                "at": reading.measured_at,
                "by": reading.recorded_by,
                "recorder": reading.recorder.value,
                "blob": sealed.blob,
                "key": sealed.key_id,
                "created": reading.created_at,
            },
        )

    async def page(self, patient_id: uuid.UUID, query: ReadingFilter) -> ReadingPage:
        clauses: list[sql.Composable] = [sql.SQL("patient_id = %(patient)s")]
        params: dict[str, Any] = {"patient": patient_id, "limit": query.limit + 1}
        if query.type is not None:
            clauses.append(sql.SQL("type = %(type)s"))
            params["type"] = query.type.value
        if query.since is not None:
            clauses.append(sql.SQL("measured_at >= %(since)s"))
            params["since"] = query.since
        if query.until is not None:
            clauses.append(sql.SQL("measured_at < %(until)s"))
            params["until"] = query.until
        if query.cursor is not None:
            at, last_id = decode_position(query.cursor)
            clauses.append(sql.SQL("(measured_at, id) < (%(c_at)s, %(c_id)s)"))
            params.update(c_at=at, c_id=last_id)
        statement = sql.SQL(
            "SELECT * FROM vital_readings WHERE {where}"
            " ORDER BY measured_at DESC, id DESC LIMIT %(limit)s"
        ).format(where=sql.SQL(" AND ").join(clauses))
        cursor = await self._conn.execute(statement, params)
        rows = await cursor.fetchall()
        items = [self._reading(row) for row in rows[: query.limit]]
        more = len(rows) > query.limit
        last = items[-1] if more else None
        return ReadingPage(
            items=items, next_cursor=encode_position(last.measured_at, last.id) if last else None
        )

    async def latest(self, patient_id: uuid.UUID) -> list[Reading]:
        cursor = await self._conn.execute(
            """
            SELECT DISTINCT ON (type) * FROM vital_readings
            WHERE patient_id = %s
            ORDER BY type, measured_at DESC, id DESC
            """,
            (patient_id,),
        )
        return [self._reading(row) for row in await cursor.fetchall()]
