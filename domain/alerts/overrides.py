"""A patient's alert rules: the defaults, with the bands a connected doctor set for them.

The patient and their connected doctors read the rules that apply; only a connected
doctor changes them (audited, rule by rule). ``bands`` None puts a rule back to its
defaults; an empty list switches it off for this patient.
"""

from __future__ import annotations

import uuid

import msgspec

from domain.alerts.ports import UnitOfWork
from domain.alerts.rules import BandSetting, Rule, override_bands, rule_named, with_overrides
from domain.alerts.thresholds import DEFAULT_RULES, RULES_BY_NAME
from domain.auditing import AuditContext, AuditEntry
from domain.errors import NotFound
from domain.patients.access import authorize_patient
from domain.policies import Access
from domain.transactions import UnitOfWorkFactory


class PatientRule(msgspec.Struct, frozen=True):
    rule: Rule
    overridden: bool


def _entry(action: str, patient_id: uuid.UUID, *fields: str) -> AuditEntry:
    return AuditEntry(
        action=action,
        resource_type="alert_rules",
        resource_id=str(patient_id),
        changed_fields=fields,
    )


async def patient_rules(uow: UnitOfWork, patient_id: uuid.UUID) -> list[PatientRule]:
    overrides = await uow.alert_rules.of(patient_id)
    return [
        PatientRule(rule=rule, overridden=rule.name in overrides)
        for rule in with_overrides(DEFAULT_RULES, overrides)
    ]


async def read_rules(
    access: Access,
    audit: AuditContext,
    patient_id: uuid.UUID,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
) -> list[PatientRule]:
    async with uow_factory(autocommit=True) as uow:
        await authorize_patient(uow, access, patient_id)
        rules = await patient_rules(uow, patient_id)
        await uow.audit.record(audit, _entry("alert_rules.read", patient_id))
    return rules


async def set_rule(
    access: Access,
    audit: AuditContext,
    patient_id: uuid.UUID,
    rule_name: str,
    bands: list[BandSetting] | None,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
) -> list[PatientRule]:
    """Replace one rule's bands for the patient (None: back to the defaults)."""
    rule = rule_named(RULES_BY_NAME, rule_name)
    checked = override_bands(rule, bands) if bands is not None else None
    async with uow_factory() as uow:
        await authorize_patient(uow, access, patient_id)
        caller = access.user_uuid
        if caller is None:  # unreachable: a connected doctor is an account
            raise NotFound("patient not found")
        if checked is None:
            await uow.alert_rules.remove(patient_id, rule.name)
        else:
            await uow.alert_rules.put(patient_id, rule.name, checked, by=caller)
        await uow.audit.record(audit, _entry("alert_rules.set", patient_id, rule.name))
        return await patient_rules(uow, patient_id)
