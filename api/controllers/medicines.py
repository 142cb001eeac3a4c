"""The medicines catalogue: search and read (anyone signed in), add, edit and record
interactions (admins). The catalogue names no patient, so reading it is not audited."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Controller, delete, get, patch, post, put
from litestar.params import FromPath, JSONBody, QueryParameter

from api.audit_context import AuditContextDep
from api.policy_guard import AccessDep
from api.problems import api_responses
from api.state import UseCases
from domain.medicines import catalogue, interactions
from domain.medicines.model import (
    MAX_NOTE,
    MAX_QUERY,
    DosageForm,
    Interaction,
    Medicine,
    MedicineChanges,
    MedicineFields,
    Severity,
)

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Short = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
AtcCode = Annotated[str, msgspec.Meta(min_length=1, max_length=7)]


class MedicineRead(msgspec.Struct, frozen=True, rename="camel"):
    id: uuid.UUID
    generic_name: str
    brand_names: list[str]
    category: str
    dosage_form: DosageForm
    strengths: list[str]
    atc_code: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, medicine: Medicine) -> MedicineRead:
        return cls(
            id=medicine.id,
            generic_name=medicine.generic_name,
            brand_names=list(medicine.brand_names),
            category=medicine.category,
            dosage_form=medicine.dosage_form,
            strengths=list(medicine.strengths),
            atc_code=medicine.atc_code,
            created_at=medicine.created_at,
            updated_at=medicine.updated_at,
        )


class MedicineList(msgspec.Struct, frozen=True, rename="camel"):
    items: list[MedicineRead]


class MedicineCreate(msgspec.Struct, frozen=True, rename="camel", forbid_unknown_fields=True):
    """A new entry; each strength and brand name is 1 to 100 (200) characters, checked by the
    catalogue's rules (422), as the schema cannot bound a list's items here."""

    generic_name: Name
    category: Short
    dosage_form: DosageForm
    strengths: Annotated[list[str], msgspec.Meta(min_length=1, max_length=20)]
    brand_names: Annotated[list[str], msgspec.Meta(max_length=20)] = []
    atc_code: AtcCode | None = None

    def fields(self) -> MedicineFields:
        return MedicineFields(
            generic_name=self.generic_name,
            brand_names=tuple(self.brand_names),
            category=self.category,
            dosage_form=self.dosage_form,
            strengths=tuple(self.strengths),
            atc_code=self.atc_code,
        )


class MedicineUpdate(msgspec.Struct, frozen=True, rename="camel", forbid_unknown_fields=True):
    """The fields to change; ``atcCode: null`` clears the code."""

    generic_name: Name | None = None
    category: Short | None = None
    dosage_form: DosageForm | None = None
    strengths: Annotated[list[str], msgspec.Meta(min_length=1, max_length=20)] | None = None
    brand_names: Annotated[list[str], msgspec.Meta(max_length=20)] | None = None
    atc_code: AtcCode | msgspec.UnsetType | None = msgspec.UNSET

    def changes(self) -> MedicineChanges:
        return MedicineChanges(
            generic_name=self.generic_name,
            category=self.category,
            dosage_form=self.dosage_form,
            strengths=tuple(self.strengths) if self.strengths is not None else None,
            brand_names=tuple(self.brand_names) if self.brand_names is not None else None,
            atc_code=self.atc_code if isinstance(self.atc_code, str) else None,
            clear_atc_code=self.atc_code is None,
        )


class InteractionWrite(msgspec.Struct, frozen=True, rename="camel", forbid_unknown_fields=True):
    other_id: uuid.UUID
    severity: Severity
    note: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_NOTE)]


class InteractionRead(msgspec.Struct, frozen=True, rename="camel"):
    medicine_ids: list[uuid.UUID]
    severity: Severity
    note: str
    updated_at: datetime

    @classmethod
    def of(cls, interaction: Interaction) -> InteractionRead:
        return cls(
            medicine_ids=[interaction.first_id, interaction.second_id],
            severity=interaction.severity,
            note=interaction.note,
            updated_at=interaction.updated_at,
        )


class InteractionList(msgspec.Struct, frozen=True, rename="camel"):
    items: list[InteractionRead]


MedicineId = FromPath[uuid.UUID]


class MedicinesController(Controller):
    path = "/medicines"
    tags = ["medicines"]

    @get(
        "/",
        operation_id="searchMedicines",
        summary="Search the catalogue by name, brand or ATC code (prefixes, any word order, "
        "typos); without q, the catalogue in name order",
        responses=api_responses(400, 422),
        opt={"policy": "medicine.read"},
    )
    async def search_medicines(
        self,
        access: AccessDep,
        cases: UseCases,
        q: Annotated[str | None, QueryParameter(min_length=1, max_length=MAX_QUERY)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 20,
        offset: Annotated[int, QueryParameter(ge=0)] = 0,
    ) -> MedicineList:
        if q is None:
            found = await cases.run(catalogue.list_medicines, access, limit, offset)
        else:
            found = await cases.run(catalogue.search_medicines, access, q, limit)
        return MedicineList(items=[MedicineRead.of(medicine) for medicine in found])

    @get(
        "/{medicine_id:uuid}",
        operation_id="getMedicine",
        summary="One catalogue entry",
        responses=api_responses(400, 404),
        opt={"policy": "medicine.read"},
    )
    async def get_medicine(
        self, medicine_id: MedicineId, access: AccessDep, cases: UseCases
    ) -> MedicineRead:
        return MedicineRead.of(await cases.run(catalogue.get_medicine, access, medicine_id))

    @post(
        "/",
        operation_id="addMedicine",
        summary="An admin adds an entry (one generic in one dosage form)",
        status_code=201,
        responses=api_responses(400, 403, 409, 413, 422),
        opt={"policy": "medicine.write"},
    )
    async def add_medicine(
        self,
        data: JSONBody[MedicineCreate],
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> MedicineRead:
        added = await cases.run(catalogue.add_medicine, access, audit_context, data.fields())
        return MedicineRead.of(added)

    @patch(
        "/{medicine_id:uuid}",
        operation_id="editMedicine",
        summary="An admin edits an entry; fields not given stay as they are",
        responses=api_responses(400, 403, 404, 409, 413, 422),
        opt={"policy": "medicine.write"},
    )
    async def edit_medicine(
        self,
        medicine_id: MedicineId,
        data: JSONBody[MedicineUpdate],
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> MedicineRead:
        edited = await cases.run(
            catalogue.edit_medicine, access, audit_context, medicine_id, data.changes()
        )
        return MedicineRead.of(edited)

    @get(
        "/{medicine_id:uuid}/interactions",
        operation_id="listMedicineInteractions",
        summary="The interactions recorded for an entry",
        responses=api_responses(400, 404),
        opt={"policy": "medicine.read"},
    )
    async def list_interactions(
        self, medicine_id: MedicineId, access: AccessDep, cases: UseCases
    ) -> InteractionList:
        found = await cases.run(interactions.list_interactions, access, medicine_id)
        return InteractionList(items=[InteractionRead.of(item) for item in found])

    @put(
        "/{medicine_id:uuid}/interactions",
        operation_id="recordMedicineInteraction",
        summary="An admin records (or replaces) the interaction of two entries",
        responses=api_responses(400, 403, 404, 413, 422),
        opt={"policy": "medicine.write"},
    )
    async def record_interaction(
        self,
        medicine_id: MedicineId,
        data: JSONBody[InteractionWrite],
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> InteractionRead:
        recorded = await cases.run(
            interactions.record_interaction,
            access,
            audit_context,
            medicine_id,
            data.other_id,
            data.severity,
            data.note,
        )
        return InteractionRead.of(recorded)

    @delete(
        "/{medicine_id:uuid}/interactions/{other_id:uuid}",
        operation_id="removeMedicineInteraction",
        summary="An admin removes the interaction of two entries",
        status_code=204,
        responses=api_responses(400, 403, 404, 422),
        opt={"policy": "medicine.write"},
    )
    async def remove_interaction(
        self,
        medicine_id: MedicineId,
        access: AccessDep,
        audit_context: AuditContextDep,
        other_id: FromPath[uuid.UUID],
        cases: UseCases,
    ) -> None:
        await cases.run(
            interactions.remove_interaction, access, audit_context, medicine_id, other_id
        )
