"""The relation rule for anything that belongs to a patient (their data, records, documents).

A caller stands to a patient as the patient themself, as a doctor with an
active connection, or as an admin; the route's policy says which of these
grant access. A patient who does not exist and one the caller may not see
are refused alike (NotFound), so an id tells a stranger nothing.
"""

from __future__ import annotations

import uuid

import structlog

from domain.errors import NotFound, ValidationFailed
from domain.identity import Role
from domain.patients.ports import UnitOfWork
from domain.policies import (
    Access,
    Relation,
    is_admin_read_of_patient_data,
    patient_relations,
    user_uuid,
)

log = structlog.get_logger(__name__)


def named_or_own(access: Access, patient_id: uuid.UUID | None) -> uuid.UUID:
    """The patient a route names, else the caller when the caller is a patient (their own);
    anyone else must name one (422)."""
    if patient_id is not None:
        return patient_id
    if access.principal.role is not Role.PATIENT or access.user_uuid is None:
        raise ValidationFailed("name the patient: patientId", field="patientId")
    return access.user_uuid


async def authorize_patient(
    uow: UnitOfWork, access: Access, patient_id: uuid.UUID | None, *, exists: bool | None = None
) -> Relation:
    """Apply the route's policy to the caller and ``patient_id``; returns the granting relation.

    ``exists`` says whether the patient was already found (a record's owner); None looks it up.
    """
    if exists is None:
        exists = patient_id is not None and await uow.patients.exists(patient_id)
    caller = user_uuid(access.principal)
    connected = (
        exists
        and patient_id is not None
        and caller is not None
        and caller != patient_id
        and await uow.connections.is_active(caller, patient_id)
    )
    granted = access.authorize(
        patient_relations(access.principal, patient_id if exists else None, connected=connected)
    )
    if is_admin_read_of_patient_data(access.policy, granted):
        log.info(
            "patient_data_admin_access",
            policy=access.policy.name,
            patient_id=str(patient_id),
            actor_id=access.principal.user_id,
        )
    return granted


async def authorize_patient_file(
    uow: UnitOfWork, access: Access, owner: uuid.UUID | None, what: str
) -> None:
    """The relation rule for one of a patient's files (a record, a document) whose owner is
    ``owner``; None means no such file, refused exactly like a file the caller may not see."""
    if owner is None:
        access.authorize(frozenset())
        raise NotFound(f"{what} not found")
    await authorize_patient(uow, access, owner, exists=True)
