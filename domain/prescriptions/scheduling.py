"""Doses from an active prescription's items: made in the patient's time zone for a rolling
horizon (DOSE_HORIZON_DAYS ahead), extended daily, and made again when the zone changes.

Only doses due from now on are made: activating at noon does not invent the morning's
dose. As-needed items have no schedule, so no doses.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import date, datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

import msgspec

from domain.doses.model import Dose, DosePlan, DoseStatus, due_times, local_today
from domain.prescriptions.model import Item, Prescription, PrescriptionStatus
from domain.prescriptions.ports import UnitOfWork


def plan_of(item: Item) -> DosePlan:
    return DosePlan(
        slots=tuple((at, Fraction(amount)) for at, amount in item.details.slots),
        every_days=item.details.every_days,
        starts_on=item.starts_on,
        ends_on=item.ends_on,
    )


async def schedule_doses(
    uow: UnitOfWork,
    prescription: Prescription,
    now: datetime,
    horizon_days: int,
    settled: Counter[tuple[uuid.UUID, date]] | None = None,
) -> int:
    """Make the prescription's doses that are missing up to the horizon; returns how many.

    ``settled`` counts, per (item, local day), doses already marked ahead of time: that many
    of the day's first doses are not made again (a change of zone keeps them)."""
    settled = settled if settled is not None else Counter()
    time_zone = await uow.time_zones.of(prescription.patient_id)
    tz = ZoneInfo(time_zone)
    last_day = local_today(now, time_zone) + timedelta(days=horizon_days)
    made = 0
    for item in prescription.items:
        if item.as_needed:
            continue
        first_day = item.doses_until + timedelta(days=1) if item.doses_until else item.starts_on
        until = min(last_day, item.ends_on)
        if first_day > until:
            continue
        due = [
            (day, due_at, amount)
            for day, due_at, amount in due_times(plan_of(item), tz, first_day, until)
            if due_at >= now
        ]
        doses = [
            Dose(
                id=uuid.uuid4(),
                patient_id=prescription.patient_id,
                prescription_id=prescription.id,
                item_id=item.id,
                due_at=due_at,
                local_date=day,
                amount=str(amount),
                status=DoseStatus.SCHEDULED,
                updated_at=now,
            )
            for day, due_at, amount in due
            if not _already_marked(settled, item.id, day)
        ]
        made += await uow.doses.add_many(doses)
        await uow.prescriptions.set_doses_until(item.id, until)
    return made


async def reschedule_patient(
    uow: UnitOfWork, patient_id: uuid.UUID, now: datetime, horizon_days: int
) -> int:
    """After a change of time zone: the patient's doses still to come are made again at the
    same local times in the new zone (those already due keep theirs)."""
    await uow.doses.drop_scheduled(patient_id, now)
    settled = Counter(await uow.doses.settled_after(patient_id, now))
    yesterday = local_today(now, await uow.time_zones.of(patient_id)) - timedelta(days=1)
    made = 0
    for prescription in await uow.prescriptions.of_patient(patient_id, [PrescriptionStatus.ACTIVE]):
        restarted = []
        for item in prescription.items:
            if not item.as_needed:
                until = min(item.doses_until or yesterday, yesterday)
                await uow.prescriptions.set_doses_until(item.id, until)
                item = msgspec.structs.replace(item, doses_until=until)
            restarted.append(item)
        prescription = msgspec.structs.replace(prescription, items=tuple(restarted))
        made += await schedule_doses(uow, prescription, now, horizon_days, settled)
    return made


def _already_marked(
    settled: Counter[tuple[uuid.UUID, date]], item_id: uuid.UUID, day: date
) -> bool:
    """Whether one of the day's doses of the item was marked before its time: it stands for
    this one (the day's earliest doses are the ones taken first)."""
    if settled[(item_id, day)] > 0:
        settled[(item_id, day)] -= 1
        return True
    return False
