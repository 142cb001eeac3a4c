"""Prescriptions and doses written straight to their tables, for tests of what reads doses
(the adherence roll-ups, and what they raise) without going through prescribing."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from psycopg import AsyncConnection


async def add_prescription(
    conn: AsyncConnection[Any], patient_id: uuid.UUID, doctor_id: uuid.UUID, first: date, days: int
) -> tuple[uuid.UUID, uuid.UUID]:
    """An active one-item prescription from ``first`` for ``days``: (its id, its item's id).
    The item's sealed details are a placeholder: nothing here opens them."""
    prescription, item = uuid.uuid4(), uuid.uuid4()
    last = first + timedelta(days=days)
    await conn.execute(
        """
        INSERT INTO prescriptions (id, patient_id, doctor_id, status, starts_on, ends_on,
                                   created_at, updated_at)
        VALUES (%s, %s, %s, 'active', %s, %s, now(), now())
        """,
        (prescription, patient_id, doctor_id, first, last),
    )
    await conn.execute(
        """
        INSERT INTO prescription_items (id, prescription_id, position, starts_on, ends_on,
                                        as_needed, details_sealed, details_key_id)
        VALUES (%s, %s, 0, %s, %s, false, '\\x00', 'unused')
        """,
        (item, prescription, first, last),
    )
    return prescription, item


async def add_dose(
    conn: AsyncConnection[Any],
    patient_id: uuid.UUID,
    prescribed: tuple[uuid.UUID, uuid.UUID],
    day: date,
    slot: int,
    status: str,
    *,
    late: bool = False,
) -> uuid.UUID:
    """A dose of ``prescribed`` due on ``day`` at 08:00 + 6 h x ``slot`` (UTC)."""
    dose = uuid.uuid4()
    prescription, item = prescribed
    await conn.execute(
        """
        INSERT INTO doses (id, patient_id, prescription_id, item_id, due_at, local_date, amount,
                           status, late, updated_at)
        VALUES (%s, %s, %s, %s, %s, %s, '1', %s, %s, now())
        """,
        (dose, patient_id, prescription, item, datetime.combine(day, time(8 + 6 * slot), UTC),
         day, status, late),
    )  # fmt: skip
    return dose
