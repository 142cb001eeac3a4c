"""Interactions between two medicines: admins record and remove them, anyone signed in reads
them, and prescribing asks which of a patient's medicines interact (``warnings_for``)."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from domain.auditing import AuditContext, AuditEntry
from domain.clock import Clock
from domain.errors import NotFound
from domain.medicines.model import (
    Interaction,
    InteractionWarning,
    Severity,
    interaction_note,
    interaction_pair,
)
from domain.medicines.ports import MedicineRepository, UnitOfWork
from domain.policies import Access
from domain.transactions import UnitOfWorkFactory


def _entry(action: str, pair: tuple[uuid.UUID, uuid.UUID], fields: tuple[str, ...]) -> AuditEntry:
    return AuditEntry(
        action=action,
        resource_type="medicine_interaction",
        resource_id=f"{pair[0]}:{pair[1]}",
        changed_fields=fields,
    )


async def record_interaction(
    access: Access,
    audit: AuditContext,
    medicine_id: uuid.UUID,
    other_id: uuid.UUID,
    severity: Severity,
    note: str,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
) -> Interaction:
    access.authorize(())
    first, second = interaction_pair(medicine_id, other_id)
    interaction = Interaction(
        first_id=first,
        second_id=second,
        severity=severity,
        note=interaction_note(note),
        updated_at=clock.now(),
    )
    async with uow_factory() as uow:
        found = await uow.medicines.many((first, second))
        if len(found) != 2:
            raise NotFound("medicine not found")
        await uow.medicines.record_interaction(interaction)
        await uow.audit.record(
            audit, _entry("medicine.interaction_record", (first, second), ("severity", "note"))
        )
    return interaction


async def remove_interaction(
    access: Access,
    audit: AuditContext,
    medicine_id: uuid.UUID,
    other_id: uuid.UUID,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
) -> None:
    access.authorize(())
    pair = interaction_pair(medicine_id, other_id)
    async with uow_factory() as uow:
        if not await uow.medicines.remove_interaction(*pair):
            raise NotFound("interaction not found")
        await uow.audit.record(audit, _entry("medicine.interaction_remove", pair, ()))


async def list_interactions(
    access: Access, medicine_id: uuid.UUID, *, uow_factory: UnitOfWorkFactory[UnitOfWork]
) -> list[Interaction]:
    access.authorize(())
    async with uow_factory(autocommit=True) as uow:
        if await uow.medicines.get(medicine_id) is None:
            raise NotFound("medicine not found")
        return await uow.medicines.interactions_of(medicine_id)


async def warnings_for(
    medicines: MedicineRepository,
    adding: Collection[uuid.UUID],
    taking: Collection[uuid.UUID],
) -> list[InteractionWarning]:
    """What prescribing ``adding`` to a patient who takes ``taking`` should be told, most
    severe first; a medicine both added and taken is not an interaction with itself."""
    adding_set = set(adding)
    found = await medicines.interactions_between(adding_set, set(taking) | adding_set)
    warnings = []
    seen = set()
    for interaction in found:
        for new, other in (
            (interaction.first_id, interaction.second_id),
            (interaction.second_id, interaction.first_id),
        ):
            if new in adding_set and (other in taking or other in adding_set):
                key = frozenset((new, other)) if other in adding_set else (new, other)
                if key in seen:
                    continue
                seen.add(key)
                warnings.append(
                    InteractionWarning(
                        medicine_id=new,
                        interacts_with=other,
                        severity=interaction.severity,
                        note=interaction.note,
                    )
                )
    order = list(Severity)
    return sorted(warnings, key=lambda w: -order.index(w.severity))
