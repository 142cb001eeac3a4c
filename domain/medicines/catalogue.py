"""The catalogue's use cases: search and read (anyone signed in), add and edit (admins).

Every change is audited; reads are not (the catalogue names no patient).
"""

from __future__ import annotations

import uuid

from domain.auditing import AuditContext, AuditEntry
from domain.clock import Clock
from domain.errors import NotFound
from domain.medicines.model import (
    Medicine,
    MedicineChanges,
    MedicineFields,
    edited,
    new_medicine,
    query_words,
)
from domain.medicines.ports import UnitOfWork
from domain.policies import Access
from domain.transactions import UnitOfWorkFactory

SEARCH_LIMIT = 20


def _entry(action: str, medicine_id: uuid.UUID, fields: tuple[str, ...]) -> AuditEntry:
    return AuditEntry(
        action=action,
        resource_type="medicine",
        resource_id=str(medicine_id),
        changed_fields=fields,
    )


async def search_medicines(
    access: Access,
    query: str,
    limit: int = SEARCH_LIMIT,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
) -> list[Medicine]:
    access.authorize(())
    words = query_words(query)
    if not words:  # punctuation only: nothing to look for
        return []
    async with uow_factory(autocommit=True) as uow:
        return await uow.medicines.search(words, limit)


async def list_medicines(
    access: Access, limit: int, offset: int, *, uow_factory: UnitOfWorkFactory[UnitOfWork]
) -> list[Medicine]:
    """The catalogue in name order, a page at a time."""
    access.authorize(())
    async with uow_factory(autocommit=True) as uow:
        return await uow.medicines.listing(limit, offset)


async def get_medicine(
    access: Access, medicine_id: uuid.UUID, *, uow_factory: UnitOfWorkFactory[UnitOfWork]
) -> Medicine:
    access.authorize(())
    async with uow_factory(autocommit=True) as uow:
        found = await uow.medicines.get(medicine_id)
    if found is None:
        raise NotFound("medicine not found")
    return found


async def add_medicine(
    access: Access,
    audit: AuditContext,
    fields: MedicineFields,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
) -> Medicine:
    access.authorize(())
    medicine = new_medicine(fields, clock.now())
    async with uow_factory() as uow:
        await uow.medicines.add(medicine)
        await uow.audit.record(
            audit, _entry("medicine.create", medicine.id, tuple(MedicineFields.__struct_fields__))
        )
    return medicine


async def edit_medicine(
    access: Access,
    audit: AuditContext,
    medicine_id: uuid.UUID,
    changes: MedicineChanges,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
) -> Medicine:
    access.authorize(())
    async with uow_factory() as uow:
        medicine = await uow.medicines.get(medicine_id, lock=True)
        if medicine is None:
            raise NotFound("medicine not found")
        after, changed = edited(medicine, changes, clock.now())
        if changed:
            await uow.medicines.update(after)
            await uow.audit.record(audit, _entry("medicine.update", medicine.id, changed))
    return after
