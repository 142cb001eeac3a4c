"""Where the catalogue is kept."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import Protocol

from domain.auditing import AuditLog
from domain.medicines.model import Interaction, Medicine


class MedicineRepository(Protocol):
    """Catalogue entries and their interactions, inside one transaction.

    ``add`` and ``update`` raise Conflict when another entry has the same generic name
    and dosage form.
    """

    async def add(self, medicine: Medicine) -> None: ...

    async def get(self, medicine_id: uuid.UUID, *, lock: bool = False) -> Medicine | None: ...

    async def many(self, medicine_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, Medicine]: ...

    async def update(self, medicine: Medicine) -> None: ...

    async def listing(self, limit: int, offset: int) -> list[Medicine]:
        """Entries by generic name, then dosage form."""
        ...

    async def search(self, words: tuple[str, ...], limit: int) -> list[Medicine]:
        """Entries whose names, brands or ATC code hold every word, as a prefix or within
        a few typos; best matches first."""
        ...

    async def record_interaction(self, interaction: Interaction) -> None:
        """Add the pair's interaction, or replace its severity and note."""
        ...

    async def remove_interaction(self, first_id: uuid.UUID, second_id: uuid.UUID) -> bool: ...

    async def interactions_of(self, medicine_id: uuid.UUID) -> list[Interaction]: ...

    async def interactions_between(
        self, these: Collection[uuid.UUID], those: Collection[uuid.UUID]
    ) -> list[Interaction]:
        """Every recorded interaction of a medicine in ``these`` with one in ``those``."""
        ...


class UnitOfWork(Protocol):
    medicines: MedicineRepository
    audit: AuditLog
