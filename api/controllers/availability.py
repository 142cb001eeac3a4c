"""Doctors' availability: a doctor's weekly template and exceptions, and the free-time search.

Windows are wall-clock times ("09:00") in the doctor's IANA time zone; free times are
instants (RFC 3339, UTC). Nothing here names a patient.
"""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated
from zoneinfo import available_timezones

import msgspec
from litestar import Controller, delete, get, post, put
from litestar.params import FromPath, JSONBody, Parameter, QueryParameter

from api.audit_context import AuditContextDep
from api.policy_guard import AccessDep
from api.problems import api_responses
from api.state import UseCases
from domain.availability import schedule
from domain.availability.model import (
    Calendar,
    DayException,
    ExceptionKind,
    FreeTime,
    WeeklyWindow,
    Window,
)
from domain.availability.search import FreeTimeQuery, search_free_times

Minutes = Annotated[int, msgspec.Meta(ge=5, le=480)]
Buffer = Annotated[int, msgspec.Meta(ge=0, le=240)]
# Every IANA zone this machine knows, as the schema's enum: a schema-valid zone is a real one.
TimeZoneName = enum.StrEnum(  # type: ignore[misc]
    "TimeZoneName", {name: name for name in sorted(available_timezones())}
)
WALL_TIME = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
WallTime = Annotated[str, msgspec.Meta(pattern=WALL_TIME, examples=["09:00"])]


def wall(text: str) -> time:
    return time.fromisoformat(text)


def hhmm(at: time) -> str:
    return at.strftime("%H:%M")


class WindowBody(
    msgspec.Struct, frozen=True, kw_only=True, rename="camel", forbid_unknown_fields=True
):
    start: WallTime  # on the doctor's clock, "HH:MM"
    end: WallTime
    slot_minutes: Minutes
    buffer_minutes: Buffer = 0

    def window(self) -> Window:
        return Window(
            start=wall(self.start),
            end=wall(self.end),
            slot_minutes=self.slot_minutes,
            buffer_minutes=self.buffer_minutes,
        )


class WeeklyWindowBody(
    WindowBody, frozen=True, kw_only=True, rename="camel", forbid_unknown_fields=True
):
    weekday: Annotated[int, msgspec.Meta(ge=1, le=7)]  # 1 = Monday ... 7 = Sunday

    def weekly(self) -> WeeklyWindow:
        return WeeklyWindow(weekday=self.weekday, **msgspec.structs.asdict(self.window()))

    @classmethod
    def of(cls, window: WeeklyWindow) -> WeeklyWindowBody:
        return cls(
            weekday=window.weekday,
            start=hhmm(window.start),
            end=hhmm(window.end),
            slot_minutes=window.slot_minutes,
            buffer_minutes=window.buffer_minutes,
        )


class WeekBody(msgspec.Struct, frozen=True, rename="camel", forbid_unknown_fields=True):
    time_zone: TimeZoneName
    windows: Annotated[list[WeeklyWindowBody], msgspec.Meta(max_length=70)]


class ExceptionBody(msgspec.Struct, frozen=True, rename="camel", forbid_unknown_fields=True):
    day: date
    kind: ExceptionKind
    window: WindowBody | None = None


class ExceptionRead(msgspec.Struct, frozen=True, rename="camel"):
    id: uuid.UUID
    day: date
    kind: ExceptionKind
    window: WindowBody | None

    @classmethod
    def of(cls, exception: DayException) -> ExceptionRead:
        window = exception.window
        return cls(
            id=exception.id,
            day=exception.day,
            kind=exception.kind,
            window=WindowBody(
                start=hhmm(window.start),
                end=hhmm(window.end),
                slot_minutes=window.slot_minutes,
                buffer_minutes=window.buffer_minutes,
            )
            if window
            else None,
        )


class CalendarRead(msgspec.Struct, frozen=True, rename="camel"):
    doctor_id: uuid.UUID
    time_zone: str
    windows: list[WeeklyWindowBody]
    exceptions: list[ExceptionRead]

    @classmethod
    def of(cls, calendar: Calendar) -> CalendarRead:
        return cls(
            doctor_id=calendar.doctor_id,
            time_zone=calendar.time_zone,
            windows=[WeeklyWindowBody.of(w) for w in calendar.weekly],
            exceptions=[ExceptionRead.of(e) for e in calendar.exceptions],
        )


class FreeTimeRead(msgspec.Struct, frozen=True, rename="camel"):
    doctor_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime

    @classmethod
    def of(cls, free: FreeTime) -> FreeTimeRead:
        return cls(doctor_id=free.doctor_id, starts_at=free.starts_at, ends_at=free.ends_at)


class FreeTimeList(msgspec.Struct, frozen=True, rename="camel"):
    items: list[FreeTimeRead]


class AvailabilityController(Controller):
    path = "/availability"
    tags = ["availability"]

    @put(
        "/week",
        operation_id="setWeeklyAvailability",
        summary="A doctor sets their weekly template and time zone (replacing the old template)",
        responses=api_responses(400, 403, 413, 422),
        opt={"policy": "availability.write"},
    )
    async def set_week(
        self,
        data: JSONBody[WeekBody],
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> CalendarRead:
        weekly = [window.weekly() for window in data.windows]
        calendar = await cases.run(schedule.set_week, access, audit_context, data.time_zone, weekly)
        return CalendarRead.of(calendar)

    @post(
        "/exceptions",
        operation_id="addAvailabilityException",
        summary="A doctor takes a day (or hours of it) off, or adds extra hours on a day",
        status_code=201,
        responses=api_responses(400, 403, 413, 422),
        opt={"policy": "availability.write"},
    )
    async def add_exception(
        self,
        data: JSONBody[ExceptionBody],
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> ExceptionRead:
        exception = DayException(
            id=uuid.uuid4(),
            day=data.day,
            kind=data.kind,
            window=data.window.window() if data.window else None,
        )
        added = await cases.run(schedule.add_exception, access, audit_context, exception)
        return ExceptionRead.of(added)

    @delete(
        "/exceptions/{exception_id:uuid}",
        operation_id="removeAvailabilityException",
        summary="A doctor removes one of their exceptions",
        status_code=204,
        responses=api_responses(400, 403, 404),
        opt={"policy": "availability.write"},
    )
    async def remove_exception(
        self,
        exception_id: FromPath[uuid.UUID],
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> None:
        await cases.run(schedule.remove_exception, access, audit_context, exception_id)

    @get(
        "/doctors/{doctor_id:uuid}",
        operation_id="readDoctorCalendar",
        summary="A doctor's weekly template, time zone and exceptions",
        responses=api_responses(400, 404),
        opt={"policy": "availability.read"},
    )
    async def read_calendar(
        self, doctor_id: FromPath[uuid.UUID], access: AccessDep, cases: UseCases
    ) -> CalendarRead:
        return CalendarRead.of(await cases.run(schedule.read_calendar, access, doctor_id))

    @get(
        "/doctors/{doctor_id:uuid}/free",
        operation_id="searchDoctorFreeTimes",
        summary="A doctor's free consultation times over their local days (default: a week)",
        responses=api_responses(400, 404, 422),
        opt={"policy": "availability.read"},
    )
    async def search_doctor(
        self,
        doctor_id: FromPath[uuid.UUID],
        access: AccessDep,
        cases: UseCases,
        start: FromDay = None,
        end: ToDay = None,
        time_from: TimeFrom = None,
        time_to: TimeTo = None,
        time_zone: TimeZoneParam = None,
        limit: ResultLimit = 500,
    ) -> FreeTimeList:
        return await _search(
            cases, access, start, end, time_from, time_to, time_zone, limit, doctor_id=doctor_id
        )

    @get(
        "/specialties/{specialty:str}/free",
        operation_id="searchSpecialtyFreeTimes",
        summary="Free times of every doctor of a specialty over their local days, soonest first",
        responses=api_responses(400, 404, 422),
        opt={"policy": "availability.read"},
    )
    async def search_specialty(
        self,
        specialty: Annotated[str, Parameter(max_length=100)],
        access: AccessDep,
        cases: UseCases,
        start: FromDay = None,
        end: ToDay = None,
        time_from: TimeFrom = None,
        time_to: TimeTo = None,
        time_zone: TimeZoneParam = None,
        limit: ResultLimit = 500,
        per_doctor: PerDoctor = None,
    ) -> FreeTimeList:
        return await _search(
            cases,
            access,
            start,
            end,
            time_from,
            time_to,
            time_zone,
            limit,
            specialty=specialty,
            per_doctor=per_doctor,
        )


FromDay = Annotated[
    date | None, QueryParameter(name="from", description="first local day; default today")
]
ToDay = Annotated[
    date | None, QueryParameter(name="to", description="last local day; default a week on")
]
TimeFrom = Annotated[
    str | None, QueryParameter(name="timeFrom", pattern=WALL_TIME, description="HH:MM")
]
TimeTo = Annotated[
    str | None, QueryParameter(name="timeTo", pattern=WALL_TIME, description="HH:MM")
]
TimeZoneParam = Annotated[
    TimeZoneName | None,
    QueryParameter(
        name="timeZone", description="the zone of timeFrom/timeTo; each doctor's own by default"
    ),
]
ResultLimit = Annotated[
    int, QueryParameter(ge=1, le=2000, description="at most this many times (default 500)")
]
PerDoctor = Annotated[
    int | None,
    QueryParameter(
        name="perDoctor",
        ge=1,
        le=2000,
        description="at most this many times of each doctor, their soonest (default: no cap)",
    ),
]
DEFAULT_DAYS = 6


async def _search(
    cases: UseCases,
    access: AccessDep,
    start: date | None,
    end: date | None,
    time_from: str | None,
    time_to: str | None,
    time_zone: TimeZoneName | None,
    limit: int,
    *,
    doctor_id: uuid.UUID | None = None,
    specialty: str | None = None,
    per_doctor: int | None = None,
) -> FreeTimeList:
    first = start or datetime.now(UTC).date()
    query = FreeTimeQuery(
        start=first,
        end=end or first + timedelta(days=DEFAULT_DAYS),
        doctor_id=doctor_id,
        specialty=specialty,
        time_from=wall(time_from) if time_from else None,
        time_to=wall(time_to) if time_to else None,
        time_zone=time_zone.value if time_zone else None,
        limit=limit,
        per_doctor=per_doctor,
    )
    found = await cases.run(search_free_times, access, query)
    return FreeTimeList(items=[FreeTimeRead.of(free) for free in found])
