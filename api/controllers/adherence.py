"""Adherence: a patient's figures over a period with their trend, and a doctor's patients by risk.

Ratios are given as numbers between 0 and 1 (``null`` when no dose fell due); counts
are doses, and days for PDC (the proportion of days covered). Who may read a patient's
adherence is the ``adherence.read`` policy's business (the patient, a connected
doctor, an admin; audited); the dashboard is a doctor's own.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from fractions import Fraction
from typing import Annotated

import msgspec
from litestar import Controller, get
from litestar.params import FromPath, QueryParameter

from api.audit_context import AuditContextDep
from api.params import Limit, RiskCursor
from api.policy_guard import AccessDep
from api.problems import api_responses
from api.state import UseCases
from domain.adherence.dashboard import patients_at_risk
from domain.adherence.model import ADHERENT_PDC, Granularity, Tally
from domain.adherence.reading import read_adherence


def _ratio(value: Fraction | None) -> float | None:
    return None if value is None else round(float(value), 4)


class TallyRead(msgspec.Struct, frozen=True, rename="camel"):
    due: int
    taken: int
    late: int
    skipped: int
    missed: int
    days_due: int
    days_covered: int
    adherence: float | None
    pdc: float | None
    adherent: bool | None  # PDC at or above 0.8

    @classmethod
    def of(cls, tally: Tally) -> TallyRead:
        pdc = tally.pdc
        return cls(
            due=tally.due,
            taken=tally.taken,
            late=tally.late,
            skipped=tally.skipped,
            missed=tally.missed,
            days_due=tally.days_due,
            days_covered=tally.days_covered,
            adherence=_ratio(tally.adherence),
            pdc=_ratio(pdc),
            adherent=None if pdc is None else pdc >= ADHERENT_PDC,
        )


class BucketRead(msgspec.Struct, frozen=True, rename="camel"):
    start: date
    tally: TallyRead


class TrendRead(msgspec.Struct, frozen=True, rename="camel"):
    previous_adherence: float | None
    change: float | None
    direction: str  # improving | worsening | steady | unknown


class AdherenceRead(msgspec.Struct, frozen=True, rename="camel"):
    patient_id: uuid.UUID
    prescription_id: uuid.UUID | None
    from_: date = msgspec.field(name="from")
    to: date
    granularity: Granularity
    total: TallyRead
    buckets: list[BucketRead]
    trend: TrendRead


class AtRiskRead(msgspec.Struct, frozen=True, rename="camel"):
    patient_id: uuid.UUID
    last_30_days: TallyRead
    open_alerts: int
    top_severity: str | None
    last_alert_at: datetime | None


class AtRiskList(msgspec.Struct, frozen=True, rename="camel"):
    items: list[AtRiskRead]
    next_cursor: str | None


PatientId = FromPath[uuid.UUID]


class AdherenceController(Controller):
    tags = ["adherence"]

    @get(
        "/patients/{patient_id:uuid}/adherence",
        operation_id="getAdherence",
        summary="A patient's adherence and PDC over a period, per bucket, with its trend; audited",
        responses=api_responses(400, 404, 422),
        opt={"policy": "adherence.read"},
    )
    async def get_adherence(
        self,
        patient_id: PatientId,
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
        first: Annotated[
            date | None,
            QueryParameter(name="from", description="first local day; 30 days before 'to'"),
        ] = None,
        last: Annotated[
            date | None, QueryParameter(name="to", description="last local day; today")
        ] = None,
        granularity: Annotated[Granularity, QueryParameter()] = Granularity.DAY,
        prescription_id: Annotated[
            uuid.UUID | None, QueryParameter(name="prescriptionId", description="one of theirs")
        ] = None,
    ) -> AdherenceRead:
        found = await cases.run(
            read_adherence,
            access,
            audit_context,
            patient_id,
            first,
            last,
            granularity,
            prescription_id,
        )
        trend = found.trend
        return AdherenceRead(
            patient_id=found.patient_id,
            prescription_id=found.prescription_id,
            from_=found.first,
            to=found.last,
            granularity=found.granularity,
            total=TallyRead.of(found.total),
            buckets=[BucketRead(start, TallyRead.of(tally)) for start, tally in found.buckets],
            trend=TrendRead(
                previous_adherence=_ratio(trend.previous),
                change=_ratio(trend.change),
                direction=trend.direction,
            ),
        )

    @get(
        "/dashboard/patients",
        operation_id="listPatientsAtRisk",
        summary="A doctor's connected patients, riskiest first (lowest 30-day adherence, then "
        "most open alerts); audited",
        responses=api_responses(400, 403, 422),
        opt={"policy": "dashboard.read"},
    )
    async def list_patients_at_risk(
        self,
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
        limit: Limit = 50,
        cursor: RiskCursor = None,
    ) -> AtRiskList:
        page = await cases.run(patients_at_risk, access, audit_context, cursor, limit)
        return AtRiskList(
            items=[
                AtRiskRead(
                    patient_id=item.patient_id,
                    last_30_days=TallyRead.of(item.recent),
                    open_alerts=item.open_alerts,
                    top_severity=item.top_severity,
                    last_alert_at=item.last_alert_at,
                )
                for item in page.items
            ],
            next_cursor=page.next_cursor,
        )
