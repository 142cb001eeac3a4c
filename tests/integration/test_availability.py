"""Doctors' calendars and the free-time search through the API, on the real database."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.availability.model import DayException, ExceptionKind, WeeklyWindow, Window
from tests.support.api import api_client, assert_problem
from tests.support.rows import audit_events, rows
from tests.support.users import add_cast

AVAILABILITY = "/api/v1/availability"


@pytest.fixture
async def api(settings):
    async with api_client(settings) as client:
        yield client


@pytest.fixture
async def cast(services):
    return await add_cast(services)


def next_weekday(weekday: int) -> date:
    """The next local date with this ISO weekday, at least two days ahead (never today)."""
    day = datetime.now(UTC).date() + timedelta(days=2)
    while day.isoweekday() != weekday:
        day += timedelta(days=1)
    return day


async def set_week(api, doctor, time_zone: str, *windows: dict) -> dict:
    response = await api.put(
        f"{AVAILABILITY}/week",
        json={"timeZone": time_zone, "windows": list(windows)},
        headers=doctor.headers,
    )
    assert response.status_code == 200, response.text
    return response.json()


def monday_morning(**extra) -> dict:
    return {"weekday": 1, "start": "09:00", "end": "11:00", "slotMinutes": 30, **extra}


async def free(api, caller, doctorId=None, specialty=None, **query) -> list[dict]:
    path = f"doctors/{doctorId}" if doctorId else f"specialties/{specialty}"
    response = await api.get(f"{AVAILABILITY}/{path}/free", params=query, headers=caller.headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def test_a_doctor_sets_a_week_and_patients_find_its_times(api, cast, settings) -> None:
    calendar = await set_week(
        api, cast.chantha, "Asia/Phnom_Penh", monday_morning(bufferMinutes=10)
    )
    assert calendar["timeZone"] == "Asia/Phnom_Penh" and len(calendar["windows"]) == 1

    monday = next_weekday(1)
    items = await free(
        api, cast.alice, doctorId=str(cast.chantha.id), **{"from": str(monday), "to": str(monday)}
    )
    # 09:00, 09:40, 10:20 in Phnom Penh (+7)
    assert [item["startsAt"][11:16] for item in items] == ["02:00", "02:40", "03:20"]
    assert all(item["doctorId"] == str(cast.chantha.id) for item in items)
    assert audit_events(settings.database_url, "calendar.set_week")


async def test_search_by_specialty_and_time_of_day(api, cast) -> None:
    await set_week(api, cast.chantha, "UTC", monday_morning())
    await set_week(api, cast.dararith, "UTC", monday_morning())
    monday = next_weekday(1)
    dates = {"from": str(monday), "to": str(monday)}
    cardiology = await free(api, cast.alice, specialty="Cardiology", **dates)
    assert {item["doctorId"] for item in cardiology} == {str(cast.chantha.id)}
    late = await free(
        api, cast.alice, specialty="cardiology", timeFrom="10:00", timeTo="12:00", **dates
    )
    assert [item["startsAt"][11:16] for item in late] == ["10:00", "10:30"]
    in_paris = await free(
        api,
        cast.alice,
        specialty="cardiology",
        timeFrom="10:00",
        timeTo="11:00",
        timeZone="Europe/Paris",
        **dates,
    )  # 10:00-11:00 in Paris is 09:00-10:00 UTC in winter, 08:00-09:00 in summer
    paris = ZoneInfo("Europe/Paris")
    slots = [
        datetime.combine(monday, time(9, 0), UTC) + timedelta(minutes=30 * i) for i in range(4)
    ]
    expected = [s.strftime("%H:%M") for s in slots if 10 <= s.astimezone(paris).hour < 11]
    assert expected and [item["startsAt"][11:16] for item in in_paris] == expected


async def test_days_off_remove_times_and_can_be_taken_back(api, cast, settings) -> None:
    await set_week(api, cast.chantha, "UTC", monday_morning())
    monday = next_weekday(1)
    dates = {"from": str(monday), "to": str(monday)}
    added = await api.post(
        f"{AVAILABILITY}/exceptions",
        json={"day": str(monday), "kind": "off"},
        headers=cast.chantha.headers,
    )
    assert added.status_code == 201, added.text
    assert await free(api, cast.alice, doctorId=str(cast.chantha.id), **dates) == []

    gone = await api.delete(
        f"{AVAILABILITY}/exceptions/{added.json()['id']}", headers=cast.chantha.headers
    )
    assert gone.status_code == 204
    assert len(await free(api, cast.alice, doctorId=str(cast.chantha.id), **dates)) == 4
    # another doctor cannot remove it: as if it did not exist
    again = await api.post(
        f"{AVAILABILITY}/exceptions",
        json={"day": str(monday), "kind": "off"},
        headers=cast.chantha.headers,
    )
    refused = await api.delete(
        f"{AVAILABILITY}/exceptions/{again.json()['id']}", headers=cast.dararith.headers
    )
    assert_problem(refused, 404)
    assert (
        rows(settings.database_url, "SELECT count(*) AS n FROM availability_exceptions")[0]["n"]
        == 1
    )


async def test_bad_calendars_are_refused_and_change_nothing(api, cast, settings) -> None:
    bad = [
        {"timeZone": "Mars/Olympus", "windows": [monday_morning()]},
        {"timeZone": "UTC", "windows": [monday_morning(end="08:00")]},
        {
            "timeZone": "UTC",
            "windows": [monday_morning(), monday_morning(start="10:00", end="12:00")],
        },
        {"timeZone": "UTC", "windows": [monday_morning(slotMinutes=1)]},
        {"timeZone": "UTC", "windows": [monday_morning(weekday=8)]},
    ]
    for body in bad:
        response = await api.put(f"{AVAILABILITY}/week", json=body, headers=cast.chantha.headers)
        assert response.status_code in (400, 422), response.text
        assert_problem(response, response.status_code)
    assert rows(settings.database_url, "SELECT count(*) AS n FROM doctor_calendars")[0]["n"] == 0
    extra = await api.post(
        f"{AVAILABILITY}/exceptions",
        json={"day": "2030-01-07", "kind": "extra"},
        headers=cast.chantha.headers,
    )
    assert_problem(extra, 422)


async def test_searches_are_bounded(api, cast) -> None:
    await set_week(api, cast.chantha, "UTC", monday_morning())
    doctor = str(cast.chantha.id)
    too_long = await api.get(
        f"{AVAILABILITY}/doctors/{doctor}/free",
        params={"from": "2030-01-07", "to": "2030-06-01", "limit": 2000},
        headers=cast.alice.headers,
    )  # cut at 62 days: the Mondays from 7 January to 4 March 2030, 4 times each
    last = max(item["startsAt"] for item in too_long.json()["items"])
    assert len(too_long.json()["items"]) == 9 * 4 and last.startswith("2030-03-04")
    backwards = await api.get(
        f"{AVAILABILITY}/doctors/{doctor}/free",
        params={"from": "2030-01-08", "to": "2030-01-01"},
        headers=cast.alice.headers,
    )
    assert backwards.status_code == 200 and backwards.json()["items"] == []
    across_midnight = await api.get(
        f"{AVAILABILITY}/doctors/{doctor}/free",
        params={"from": "2030-01-07", "to": "2030-01-07", "timeFrom": "10:30", "timeTo": "09:30"},
        headers=cast.alice.headers,
    )  # from 10:30 round midnight to 09:30: 09:00 and 10:30 are in it, 09:30 and 10:00 not
    assert [i["startsAt"][11:16] for i in across_midnight.json()["items"]] == ["09:00", "10:30"]
    bad_time = await api.get(
        f"{AVAILABILITY}/doctors/{doctor}/free",
        params={"timeFrom": "25:00"},
        headers=cast.alice.headers,
    )
    assert_problem(bad_time, 400)
    for first in ("0001-01-01", "9999-12-31"):  # date arithmetic's edges: 422, not a 500
        edge = await api.get(
            f"{AVAILABILITY}/doctors/{doctor}/free",
            params={"from": first, "to": "9999-12-31"},
            headers=cast.alice.headers,
        )
        assert_problem(edge, 422)
        assert "from" in edge.text
    # The default window, today and the week on, holds a working morning whatever the day
    # and hour the test runs (on a Monday after 11:00 UTC, Monday mornings alone are past).
    every_morning = [monday_morning(weekday=day) for day in range(1, 8)]
    await set_week(api, cast.chantha, "UTC", *every_morning)
    default_week = await api.get(
        f"{AVAILABILITY}/doctors/{doctor}/free", headers=cast.alice.headers
    )
    assert default_week.status_code == 200 and default_week.json()["items"]
    unknown = await api.get(f"{AVAILABILITY}/doctors/{uuid.uuid4()}", headers=cast.alice.headers)
    assert_problem(unknown, 404)
    read = await api.get(f"{AVAILABILITY}/doctors/{doctor}", headers=cast.alice.headers)
    assert read.status_code == 200 and read.json()["windows"][0]["slotMinutes"] == 30


async def test_the_store_reads_calendars_in_one_statement_and_a_search_s_exceptions_only(
    services, cast
) -> None:
    """``get`` reads every exception; ``many`` with days only those on the searched days;
    windows and exceptions come back as written (decoded from the database's JSON)."""
    week = (
        WeeklyWindow(weekday=1, start=time(9), end=time(11), slot_minutes=30, buffer_minutes=5),
        WeeklyWindow(weekday=3, start=time(14, 30), end=time(18), slot_minutes=45),
    )
    written = [
        DayException(id=uuid.uuid4(), day=date(2030, 1, 7), kind=ExceptionKind.OFF),
        DayException(
            id=uuid.uuid4(),
            day=date(2030, 1, 9),
            kind=ExceptionKind.OFF,
            window=Window(start=time(15), end=time(16), slot_minutes=0),
        ),
        DayException(
            id=uuid.uuid4(),
            day=date(2030, 2, 1),
            kind=ExceptionKind.EXTRA,
            window=Window(start=time(7), end=time(8), slot_minutes=20, buffer_minutes=10),
        ),
    ]
    async with services.uow() as uow:
        await uow.calendars.set_week(cast.chantha.id, "Europe/Paris", week, datetime.now(UTC))
        for exception in written:
            await uow.calendars.add_exception(cast.chantha.id, exception)
    async with services.uow() as uow:
        whole = await uow.calendars.get(cast.chantha.id)
        january = await uow.calendars.many(
            [cast.chantha.id, cast.dararith.id], (date(2030, 1, 7), date(2030, 1, 31))
        )
        first_week = await uow.calendars.many(
            [cast.chantha.id], (date(2030, 1, 8), date(2030, 1, 9))
        )
    assert whole is not None and whole.time_zone == "Europe/Paris" and whole.weekly == week
    assert sorted(whole.exceptions, key=lambda e: e.day) == written
    assert [c.doctor_id for c in january] == [cast.chantha.id]  # Dararith keeps no calendar
    assert list(january[0].exceptions) == written[:2] and january[0].weekly == week
    assert list(first_week[0].exceptions) == written[1:2]


async def test_a_specialty_search_caps_each_doctor_with_per_doctor(api, cast, settings) -> None:
    await set_week(api, cast.chantha, "UTC", monday_morning())
    await set_week(api, cast.dararith, "UTC", monday_morning())
    moved = rows(
        settings.database_url,
        "UPDATE doctor_profiles SET specialty = 'cardiology' WHERE user_id = %s RETURNING user_id",
        (cast.dararith.id,),
    )
    assert len(moved) == 1
    monday = next_weekday(1)
    dates = {"from": str(monday), "to": str(monday)}
    first, second = sorted([str(cast.chantha.id), str(cast.dararith.id)])
    # equal times: by doctor; each doctor's 09:00, 09:30, 10:00, 10:30
    everything = await free(api, cast.alice, specialty="cardiology", **dates)
    assert [(i["startsAt"][11:16], i["doctorId"]) for i in everything] == [
        (at, doctor) for at in ("09:00", "09:30", "10:00", "10:30") for doctor in (first, second)
    ]
    capped = await free(api, cast.alice, specialty="cardiology", perDoctor=1, **dates)
    assert [(i["startsAt"][11:16], i["doctorId"]) for i in capped] == [
        ("09:00", first),
        ("09:00", second),
    ]
    both = await free(api, cast.alice, specialty="cardiology", perDoctor=3, limit=5, **dates)
    assert both == everything[:5]
    for bad in (0, 2001, "many"):
        refused = await api.get(
            f"{AVAILABILITY}/specialties/cardiology/free",
            params={"perDoctor": bad, **dates},
            headers=cast.alice.headers,
        )
        assert_problem(refused, 400)
