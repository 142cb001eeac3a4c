"""Reading one consultation: its patient, its doctor, or an admin; to anyone else it is missing."""

from __future__ import annotations

import uuid

from domain.consultations.model import Consultation
from domain.consultations.ports import UnitOfWork
from domain.errors import NotFound
from domain.policies import Access, party_relations
from domain.transactions import UnitOfWorkFactory


def as_party(access: Access, consultation: Consultation | None) -> Consultation:
    """The consultation if the caller may act on it under the route's policy; else a 404."""
    access.authorize(
        party_relations(access.principal, consultation.parties if consultation else None)
    )
    if consultation is None:  # unreachable: nobody is a party to a missing consultation
        raise NotFound("consultation not found")
    return consultation


async def read_consultation(
    access: Access, consultation_id: uuid.UUID, *, uow_factory: UnitOfWorkFactory[UnitOfWork]
) -> Consultation:
    async with uow_factory() as uow:
        return as_party(access, await uow.consultations.get(consultation_id))
