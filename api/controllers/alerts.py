"""Health alerts: a caller's inbox, one patient's alerts and rules, and what is done with an
alert (read, acknowledged, resolved).

Who may call what is the ``alert.*`` and ``alert_rules.*`` policies' business: the
patient and the doctors actively connected to them; anyone else gets the 404 of a
missing alert or patient. Alerts hold codes, never values; every read is audited.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Controller, get, post, put
from litestar.params import FromPath, JSONBody, QueryParameter

from api.audit_context import AuditContextDep
from api.params import Cursor, Limit
from api.policy_guard import AccessDep
from api.problems import api_responses
from api.state import UseCases
from domain.alerts import handling, listing, overrides
from domain.alerts.model import (
    LIVE_STATUSES,
    AlertFilter,
    AlertPage,
    AlertStatus,
    AlertView,
    Severity,
)
from domain.alerts.overrides import PatientRule
from domain.alerts.rules import BandSetting, Direction


class AlertRead(msgspec.Struct, frozen=True, rename="camel"):
    id: uuid.UUID
    patient_id: uuid.UUID
    rule: str
    severity: Severity
    summary_code: str
    status: AlertStatus
    occurrences: int
    first_at: datetime
    last_at: datetime
    escalated_from: Severity | None
    acknowledged_by: uuid.UUID | None
    acknowledged_at: datetime | None
    resolved_by: uuid.UUID | None
    resolved_at: datetime | None
    created_at: datetime
    updated_at: datetime
    read_at: datetime | None  # when the caller read it

    @classmethod
    def of(cls, view: AlertView) -> AlertRead:
        alert = view.alert
        return cls(
            id=alert.id,
            patient_id=alert.patient_id,
            rule=alert.rule,
            severity=alert.severity,
            summary_code=alert.summary_code,
            status=alert.status,
            occurrences=alert.occurrences,
            first_at=alert.first_at,
            last_at=alert.last_at,
            escalated_from=alert.escalated_from,
            acknowledged_by=alert.acknowledged_by,
            acknowledged_at=alert.acknowledged_at,
            resolved_by=alert.resolved_by,
            resolved_at=alert.resolved_at,
            created_at=alert.created_at,
            updated_at=alert.updated_at,
            read_at=view.read_at,
        )


class AlertList(msgspec.Struct, frozen=True, rename="camel"):
    items: list[AlertRead]
    next_cursor: str | None

    @classmethod
    def of(cls, page: AlertPage) -> AlertList:
        return cls(items=[AlertRead.of(view) for view in page.items], next_cursor=page.next_cursor)


class BandRead(msgspec.Struct, frozen=True, rename="camel"):
    severity: Severity
    code: str
    limits: dict[str, float]


class RuleRead(msgspec.Struct, frozen=True, rename="camel"):
    name: str
    vital: str
    direction: Direction
    quantities: list[str]
    bands: list[BandRead]
    source: str
    overridden: bool

    @classmethod
    def of(cls, entry: PatientRule) -> RuleRead:
        rule = entry.rule
        return cls(
            name=rule.name,
            vital=rule.vital,
            direction=rule.direction,
            quantities=list(rule.quantities),
            bands=[BandRead(b.severity, b.code, dict(b.limits)) for b in rule.bands],
            source=rule.source,
            overridden=entry.overridden,
        )


class RuleList(msgspec.Struct, frozen=True, rename="camel"):
    rules: list[RuleRead]


class BandWrite(msgspec.Struct, frozen=True, rename="camel", forbid_unknown_fields=True):
    severity: Severity
    limits: Annotated[
        dict[Annotated[str, msgspec.Meta(max_length=32)], float], msgspec.Meta(max_length=8)
    ]


class RuleWrite(msgspec.Struct, frozen=True, rename="camel", forbid_unknown_fields=True):
    """One rule's bands for this patient: a list replaces the defaults (empty: the rule is off
    for them); ``null`` puts the defaults back."""

    rule: Annotated[str, msgspec.Meta(max_length=64)]
    bands: Annotated[list[BandWrite], msgspec.Meta(max_length=4)] | None


AlertId = FromPath[uuid.UUID]
PatientId = FromPath[uuid.UUID]
StatusFilter = Annotated[
    AlertStatus | None,
    QueryParameter(description="one status; by default every alert not resolved"),
]


def _filter(status: AlertStatus | None, limit: int, cursor: str | None) -> AlertFilter:
    statuses = frozenset({status}) if status is not None else LIVE_STATUSES
    return AlertFilter(statuses=statuses, limit=limit, cursor=cursor)


class AlertsController(Controller):
    path = "/alerts"
    tags = ["alerts"]

    @get(
        "/",
        operation_id="listMyAlerts",
        summary="Your alerts: a patient's own; a doctor's, of the patients connected to them now",
        responses=api_responses(400, 403, 422),
        opt={"policy": "alert.inbox"},
    )
    async def list_my_alerts(
        self,
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
        status: StatusFilter = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> AlertList:
        page = await cases.run(
            listing.list_my_alerts, access, audit_context, _filter(status, limit, cursor)
        )
        return AlertList.of(page)

    @get(
        "/{alert_id:uuid}",
        operation_id="getAlert",
        summary="One alert (the patient, a connected doctor); audited",
        responses=api_responses(400, 403, 404),
        opt={"policy": "alert.read"},
    )
    async def get_alert(
        self, alert_id: AlertId, access: AccessDep, audit_context: AuditContextDep, cases: UseCases
    ) -> AlertRead:
        return AlertRead.of(await cases.run(handling.read_alert, access, audit_context, alert_id))

    @post(
        "/{alert_id:uuid}/read",
        operation_id="markAlertRead",
        summary="The caller has read the alert (each reader for themself)",
        status_code=200,
        responses=api_responses(400, 403, 404),
        opt={"policy": "alert.read"},
    )
    async def mark_read(
        self, alert_id: AlertId, access: AccessDep, audit_context: AuditContextDep, cases: UseCases
    ) -> AlertRead:
        view = await cases.run(handling.mark_alert_read, access, audit_context, alert_id)
        return AlertRead.of(view)

    @post(
        "/{alert_id:uuid}/acknowledge",
        operation_id="acknowledgeAlert",
        summary="A connected doctor acknowledges an open alert",
        status_code=200,
        responses=api_responses(400, 403, 404, 409),
        opt={"policy": "alert.acknowledge"},
    )
    async def acknowledge(
        self, alert_id: AlertId, access: AccessDep, audit_context: AuditContextDep, cases: UseCases
    ) -> AlertRead:
        view = await cases.run(handling.move_alert, access, audit_context, alert_id, "acknowledge")
        return AlertRead.of(view)

    @post(
        "/{alert_id:uuid}/resolve",
        operation_id="resolveAlert",
        summary="A connected doctor resolves an alert; the rule's next breach opens a new one",
        status_code=200,
        responses=api_responses(400, 403, 404, 409),
        opt={"policy": "alert.resolve"},
    )
    async def resolve(
        self, alert_id: AlertId, access: AccessDep, audit_context: AuditContextDep, cases: UseCases
    ) -> AlertRead:
        view = await cases.run(handling.move_alert, access, audit_context, alert_id, "resolve")
        return AlertRead.of(view)


class PatientAlertsController(Controller):
    path = "/patients/{patient_id:uuid}"
    tags = ["alerts"]

    @get(
        "/alerts",
        operation_id="listPatientAlerts",
        summary="A patient's alerts, newest first (the patient, a connected doctor); audited",
        responses=api_responses(400, 403, 404, 422),
        opt={"policy": "alert.list"},
    )
    async def list_patient_alerts(
        self,
        patient_id: PatientId,
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
        status: StatusFilter = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> AlertList:
        page = await cases.run(
            listing.list_patient_alerts,
            access,
            audit_context,
            patient_id,
            _filter(status, limit, cursor),
        )
        return AlertList.of(page)

    @get(
        "/alert-rules",
        operation_id="getAlertRules",
        summary="The alert rules that apply to a patient: defaults and a doctor's overrides",
        responses=api_responses(400, 403, 404),
        opt={"policy": "alert_rules.read"},
    )
    async def get_rules(
        self,
        patient_id: PatientId,
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> RuleList:
        rules = await cases.run(overrides.read_rules, access, audit_context, patient_id)
        return RuleList(rules=[RuleRead.of(rule) for rule in rules])

    @put(
        "/alert-rules",
        operation_id="setAlertRule",
        summary="A connected doctor sets one rule's bands for the patient (null: the defaults)",
        responses=api_responses(400, 403, 404, 413, 422),
        opt={"policy": "alert_rules.write"},
    )
    async def set_rule(
        self,
        patient_id: PatientId,
        data: JSONBody[RuleWrite],
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> RuleList:
        bands = (
            None
            if data.bands is None
            else [BandSetting(band.severity, dict(band.limits)) for band in data.bands]
        )
        rules = await cases.run(
            overrides.set_rule, access, audit_context, patient_id, data.rule, bands
        )
        return RuleList(rules=[RuleRead.of(rule) for rule in rules])
