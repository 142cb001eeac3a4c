"""Free-time search latency, and many patients competing for few times.

    .venv/bin/python -m bench.availability [--searches 300] [--patients 1000] [--concurrency 32]

On a fresh database migrated to head, in this process, through the use cases the API calls
(``search_free_times``, ``hold_consultation``) on the real PostgreSQL store:

1. **Search.** One doctor with a full week (Monday to Sunday, 08:00-18:00 in
   Asia/Phnom_Penh, 20-minute consultations with a 5-minute buffer, a day off, some hours
   booked): ``--searches`` searches of a month of that calendar; then 100 doctors of one
   specialty with the same template: searches of a week across all of them. p50/p99 each.
   Targets: p99 < 50 ms (one doctor, a month), < 200 ms (100 doctors).
2. **Contention.** 10 doctors with 20 times each (200 times, a zero fee so no payment is
   made); ``--patients`` patients each try to hold a random time, ``--concurrency`` at once,
   moving on to another random time after a 409 (at most 5 tries). Holds/s and conflicts
   answered/s over the run, and a query over the table that counts overlapping held or
   confirmed consultations of one doctor: it must be 0.

Bounded by its sizes; 127.0.0.1 only; the database is dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from datetime import time as wall
from pathlib import Path

from bench._support import Servers, app_env, fresh_database, note, table
from domain.adapters.bootstrap import Services, build_services
from domain.adapters.jobs.messaging import build_broker
from domain.auditing import AuditContext
from domain.availability.model import DayException, ExceptionKind, WeeklyWindow
from domain.availability.search import FreeTimeQuery, search_free_times
from domain.consultations.hold import HoldRequest, hold_consultation
from domain.errors import Conflict
from domain.identity import Principal, Role
from domain.policies import Access, policy_named
from domain.settings import load_settings
from domain.wiring import Wired
from tests.support.people import Person
from tests.support.users import ROLES, add_user

ZONE = "Asia/Phnom_Penh"
SPECIALTY = "dermatology"
WEEK = tuple(
    WeeklyWindow(weekday=d, start=wall(8), end=wall(18), slot_minutes=20, buffer_minutes=5)
    for d in range(1, 8)
)
AUDIT = AuditContext(actor_id="bench", actor_role="patient")
TRIES = 5


def person(role: str, n: int, fee: int = 0) -> Person:
    """A bench account; registered with the fixtures' roles so ``add_user`` knows its role."""
    made = _person(role, n, fee)
    ROLES[made.email] = Role.DOCTOR if role == "doctor" else Role.PATIENT
    return made


def _person(role: str, n: int, fee: int) -> Person:
    if role == "doctor":
        return Person(
            email=f"dr{n}@bench.example.org",
            name=f"Doctor {n}",
            password="bench password long enough 1",
            specialty=SPECIALTY,
            licence_number=f"KH-BENCH-{n}",
            consultation_fee_cents=fee,
        )
    return Person(
        email=f"patient{n}@bench.example.org",
        name=f"Patient {n}",
        password="bench password long enough 2",
        date_of_birth="1990-01-01",
    )


def access(user_id: uuid.UUID, role: Role, policy: str) -> Access:
    return Access(Principal(user_id=str(user_id), role=role), policy_named(policy))


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def timed(run, count: int) -> list[float]:
    latencies = []
    for _ in range(count):
        started = time.perf_counter()
        await run()
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


async def search_phase(services: Services, cases: Wired, searches: int) -> list[list[object]]:
    doctors = [await add_user(services, person("doctor", n)) for n in range(100)]
    patient = await add_user(services, person("patient", 0))
    start = datetime.now(UTC).date() + timedelta(days=1)
    async with services.uow() as uow:
        for doctor in doctors:
            await uow.calendars.set_week(doctor, ZONE, WEEK, datetime.now(UTC))
        await uow.calendars.add_exception(
            doctors[0],
            DayException(id=uuid.uuid4(), day=start + timedelta(days=3), kind=ExceptionKind.OFF),
        )
    caller = access(patient, Role.PATIENT, "availability.read")
    one = FreeTimeQuery(
        start=start, end=start + timedelta(days=30), doctor_id=doctors[0], limit=2000
    )
    found = await cases.run(search_free_times, caller, one)
    for free in found[::7][:100]:  # some of the month booked
        request = HoldRequest(doctor_id=doctors[0], starts_at=free.starts_at, ends_at=free.ends_at)
        await cases.run(
            hold_consultation,
            access(patient, Role.PATIENT, "consultation.hold"),
            AUDIT,
            request,
            None,
        )
    many = FreeTimeQuery(
        start=start, end=start + timedelta(days=6), specialty=SPECIALTY, limit=2000
    )
    rows = []
    for label, query, target in (
        ("one doctor, 31 days", one, 50.0),
        ("100 doctors, 7 days", many, 200.0),
    ):
        await timed(lambda q=query: cases.run(search_free_times, caller, q), 5)  # warm-up
        latencies = await timed(lambda q=query: cases.run(search_free_times, caller, q), searches)
        listed = len(await cases.run(search_free_times, caller, query))
        p99 = percentile(latencies, 0.99)
        rows.append(
            [
                label,
                listed,
                len(latencies),
                f"{statistics.median(latencies):.1f}",
                f"{p99:.1f}",
                f"< {target:.0f}",
                "met" if p99 < target else "MISSED",
            ]
        )
    return rows


async def contention_phase(
    services: Services, cases: Wired, patients: int, concurrency: int
) -> tuple[list[object], int]:
    doctors = [await add_user(services, person("doctor", 1000 + n)) for n in range(10)]
    day = datetime.now(UTC).date() + timedelta(days=40)
    monday = day - timedelta(days=day.weekday())
    async with services.uow() as uow:
        for doctor in doctors:  # Mondays 08:00-14:40 UTC: 20 times of 20 minutes
            week = (WeeklyWindow(weekday=1, start=wall(8), end=wall(14, 40), slot_minutes=20),)
            await uow.calendars.set_week(doctor, "UTC", week, datetime.now(UTC))
    times = [
        (doctor, datetime.combine(monday, wall(8), UTC) + timedelta(minutes=20 * i))
        for doctor in doctors
        for i in range(20)
    ]
    people = [await add_user(services, person("patient", 10 + n)) for n in range(patients)]
    holds = conflicts = 0
    gate = asyncio.Semaphore(concurrency)
    rng = random.Random(13)

    async def patient_tries(patient: uuid.UUID) -> None:
        nonlocal holds, conflicts
        caller = access(patient, Role.PATIENT, "consultation.hold")
        for _ in range(TRIES):
            doctor, starts_at = rng.choice(times)
            request = HoldRequest(
                doctor_id=doctor, starts_at=starts_at, ends_at=starts_at + timedelta(minutes=20)
            )
            async with gate:
                try:
                    await cases.run(hold_consultation, caller, AUDIT, request, None)
                except Conflict:
                    conflicts += 1
                    continue
            holds += 1
            return

    started = time.perf_counter()
    await asyncio.gather(*(patient_tries(p) for p in people))
    seconds = time.perf_counter() - started
    async with services.uow() as uow:
        cursor = await uow.connection.execute(
            """
            SELECT count(*) AS n FROM consultations a JOIN consultations b
              ON a.doctor_id = b.doctor_id AND a.id < b.id
             AND tstzrange(a.starts_at, a.blocked_until) && tstzrange(b.starts_at, b.blocked_until)
            WHERE a.status IN ('held', 'confirmed') AND b.status IN ('held', 'confirmed')
            """
        )
        double = (await cursor.fetchone())["n"]
    row = [
        patients,
        len(times),
        holds,
        conflicts,
        f"{seconds:.1f}",
        f"{holds / seconds:,.0f}",
        f"{conflicts / seconds:,.0f}",
        double,
    ]
    return row, double


async def run(args: argparse.Namespace) -> int:
    with contextlib.ExitStack() as stack:
        servers = Servers(stack)
        note(f"PostgreSQL: {servers.postgres_label}")
        database_url = stack.enter_context(fresh_database(servers.admin_database_url))
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hp-bench-avail-")))
        env = app_env(database_url, servers.redis_url, workdir / "data", LOG_LEVEL="WARNING")
        settings = load_settings(env)
        services = build_services(
            settings, build_broker(settings.redis_url), pool_max_size=args.concurrency
        )
        await services.open(wait_for_database=True)
        try:
            cases = Wired(services.dependencies())
            note("searching")
            searched = await search_phase(services, cases, args.searches)
            note(f"{args.patients} patients competing")
            contended, double = await contention_phase(
                services, cases, args.patients, args.concurrency
            )
        finally:
            await services.close()
    print(table(["search", "times listed", "searches", "p50 ms", "p99 ms", "target", ""], searched))
    print(
        table(
            [
                "patients",
                "times",
                "holds",
                "409s",
                "seconds",
                "holds/s",
                "409s/s",
                "double bookings",
            ],
            [contended],
        )
    )
    met = all(row[-1] == "met" for row in searched) and double == 0
    return 0 if met else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--searches", type=int, default=300)
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
