"""Sealed columns in memory, as key rotation reads and rewrites them."""

from __future__ import annotations

import uuid

from domain.clock import Clock
from domain.phi.ports import SealedValue
from domain.sealing import Sealed, SealedColumn
from tests.fakes.database import FakeDatabase


class FakeSealedValues:
    def __init__(self, database: FakeDatabase, clock: Clock) -> None:
        self._database = database

    def _column(self, column: SealedColumn) -> dict[uuid.UUID, Sealed]:
        return self._database.table(f"{column.table}.{column.column}")

    async def stale(
        self, column: SealedColumn, active_key_id: str, after: uuid.UUID | None, limit: int
    ) -> list[SealedValue]:
        rows = sorted(
            (row_id, sealed)
            for row_id, sealed in self._column(column).items()
            if sealed.key_id != active_key_id and (after is None or row_id > after)
        )
        return [SealedValue(row_id=row_id, sealed=sealed) for row_id, sealed in rows[:limit]]

    async def replace(self, column: SealedColumn, value: SealedValue, sealed: Sealed) -> None:
        self._column(column)[value.row_id] = sealed
