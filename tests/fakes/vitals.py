"""Vital-sign readings in memory, paged as the store pages them (newest measured first)."""

from __future__ import annotations

import uuid

from domain.adapters.cursors import decode_position, encode_position
from domain.clock import Clock
from domain.vitals.model import Reading, ReadingFilter, ReadingPage
from tests.fakes.database import FakeDatabase


class FakeReadingRepository:
    def __init__(self, database: FakeDatabase, clock: Clock) -> None:
        self._rows: dict[uuid.UUID, Reading] = database.table("readings")

    async def add(self, reading: Reading) -> None:
        self._rows[reading.id] = reading

    def _newest_first(self, patient_id: uuid.UUID) -> list[Reading]:
        mine = [r for r in self._rows.values() if r.patient_id == patient_id]
        return sorted(mine, key=lambda r: (r.measured_at, r.id), reverse=True)

    async def page(self, patient_id: uuid.UUID, query: ReadingFilter) -> ReadingPage:
        after = decode_position(query.cursor) if query.cursor else None
        found = [
            r
            for r in self._newest_first(patient_id)
            if (query.type is None or r.type is query.type)
            and (query.since is None or r.measured_at >= query.since)
            and (query.until is None or r.measured_at < query.until)
            and (after is None or (r.measured_at, r.id) < after)
        ]
        page = found[: query.limit]
        more = len(found) > query.limit
        return ReadingPage(
            items=page,
            next_cursor=encode_position(page[-1].measured_at, page[-1].id) if more else None,
        )

    async def latest(self, patient_id: uuid.UUID) -> list[Reading]:
        newest: dict[str, Reading] = {}
        for reading in self._newest_first(patient_id):
            newest.setdefault(reading.type.value, reading)
        return [newest[name] for name in sorted(newest)]
