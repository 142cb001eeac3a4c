"""Free-time search latency, and many patients competing for few times.

    .venv/bin/python -m bench.availability [--searches 300] [--patients 1000] [--concurrency 32]

On a fresh database migrated to head, through the use cases the API calls
(``search_free_times``, ``hold_consultation``) on the real PostgreSQL store, and over HTTP:

1. **Search.** 100 doctors of one specialty, each with a full week (Monday to Sunday,
   08:00-18:00 in Asia/Phnom_Penh, 20-minute consultations with a 5-minute buffer); the
   first has a day off and a seventh of its month booked. Three searches: that doctor's
   month, and the specialty's first 2,000 times over a week and over a month. Measured
   twice, ``--searches`` rounds each after 5 uncounted ones, every round running the
   baseline and the three searches in turn (interleaved: they share the machine's moments):
   in this process through the use cases (baseline: reading one doctor's calendar, one
   transaction and one statement), then over HTTP to a uvicorn process started on the same
   database, one request at a time with the answer read in full (baseline: ``GET
   /health/live``). p50/p99 each, and their ratios to the baseline's; in process also the
   median CPU time this process spent on each (what a loaded machine cannot inflate much).
   Targets (p99): < 50 ms for one doctor's month, < 200 ms across 100 doctors.
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
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from datetime import time as wall
from pathlib import Path

import httpx
import msgspec

from api.tokens import mint_token
from bench._support import (
    Child,
    Servers,
    app_env,
    figure,
    free_port,
    fresh_database,
    note,
    table,
)
from bench.api_latency import UNLIMITED_PER_MINUTE, wait_ready
from domain.adapters.bootstrap import Services, build_services
from domain.adapters.jobs.messaging import build_broker
from domain.auditing import AuditContext
from domain.availability.model import DayException, ExceptionKind, WeeklyWindow
from domain.availability.schedule import read_calendar
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
WARMUP = 5  # rounds not counted
BASELINE_CASE = "read one calendar (baseline)"
BASELINE_HTTP = "GET /health/live (baseline)"
Run = Callable[[], Awaitable[object]]


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


async def timed_once(run: Run) -> tuple[float, float]:
    """Wall-clock and this process's CPU milliseconds of one run."""
    started, cpu = time.perf_counter(), time.process_time()
    await run()
    return (time.perf_counter() - started) * 1000, (time.process_time() - cpu) * 1000


async def interleaved(
    plan: list[tuple[str, Run]], rounds: int, warmup: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Each round runs every entry of the plan once, in turn: the baseline and the searches see
    the same moments of a shared machine. The first ``warmup`` rounds are not counted.
    Wall-clock and CPU milliseconds per entry."""
    latencies: dict[str, list[float]] = {label: [] for label, _ in plan}
    cpu: dict[str, list[float]] = {label: [] for label, _ in plan}
    for n in range(warmup + rounds):
        for label, run in plan:
            took, used = await timed_once(run)
            if n >= warmup:
                latencies[label].append(took)
                cpu[label].append(used)
    return latencies, cpu


def _row(
    label: str,
    listed: int,
    latencies: list[float],
    baseline: list[float],
    target: float | None,
    cpu: list[float] | None = None,
) -> list[object]:
    p50, p99 = statistics.median(latencies), percentile(latencies, 0.99)
    verdict = "" if target is None else ("met" if p99 < target else "MISSED")
    return [
        label,
        listed,
        len(latencies),
        f"{p50:.1f}",
        f"{p99:.1f}",
        f"{p50 / statistics.median(baseline):.1f}x",
        f"{p99 / percentile(baseline, 0.99):.1f}x",
        "-" if cpu is None else f"{statistics.median(cpu):.1f}",
        "baseline" if target is None else f"< {target:.0f}",
        verdict,
    ]


async def seed_search(services: Services, cases: Wired) -> tuple[list[uuid.UUID], uuid.UUID]:
    """100 doctors of one specialty with the same week; the first with a day off and a seventh
    of its month booked. The doctors and a patient."""
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
    month = searches(doctors)[0][1]
    for free in (await cases.run(search_free_times, caller, month))[::7][:100]:
        request = HoldRequest(doctor_id=doctors[0], starts_at=free.starts_at, ends_at=free.ends_at)
        await cases.run(
            hold_consultation,
            access(patient, Role.PATIENT, "consultation.hold"),
            AUDIT,
            request,
            None,
        )
    return doctors, patient


def searches(doctors: list[uuid.UUID]) -> list[tuple[str, FreeTimeQuery, float]]:
    start = datetime.now(UTC).date() + timedelta(days=1)
    month, week = start + timedelta(days=30), start + timedelta(days=6)
    return [
        (
            "one doctor, 31 days",
            FreeTimeQuery(start=start, end=month, doctor_id=doctors[0], limit=2000),
            50.0,
        ),
        (
            "100 doctors, 7 days",
            FreeTimeQuery(start=start, end=week, specialty=SPECIALTY, limit=2000),
            200.0,
        ),
        (
            "100 doctors, 31 days",
            FreeTimeQuery(start=start, end=month, specialty=SPECIALTY, limit=2000),
            200.0,
        ),
    ]


def url_of(query: FreeTimeQuery) -> str:
    where = f"doctors/{query.doctor_id}" if query.doctor_id else f"specialties/{query.specialty}"
    return (
        f"/api/v1/availability/{where}/free?from={query.start}&to={query.end}&limit={query.limit}"
    )


async def use_case_phase(
    cases: Wired, doctors: list[uuid.UUID], patient: uuid.UUID, rounds: int
) -> list[list[object]]:
    """In this process, through the use cases: the baseline reads one doctor's calendar
    (one transaction, one statement)."""
    caller = access(patient, Role.PATIENT, "availability.read")
    plan: list[tuple[str, Run]] = [
        (BASELINE_CASE, lambda: cases.run(read_calendar, caller, doctors[0]))
    ]
    for label, query, _ in searches(doctors):
        plan.append((label, lambda q=query: cases.run(search_free_times, caller, q)))
    latencies, cpu = await interleaved(plan, rounds, WARMUP)
    baseline = latencies[BASELINE_CASE]
    rows = [_row(BASELINE_CASE, 1, baseline, baseline, None, cpu[BASELINE_CASE])]
    for label, query, target in searches(doctors):
        listed = len(await cases.run(search_free_times, caller, query))
        rows.append(_row(label, listed, latencies[label], baseline, target, cpu[label]))
    return rows


async def http_phase(
    base: str, token: str, doctors: list[uuid.UUID], rounds: int
) -> list[list[object]]:
    """Over HTTP to one uvicorn process, one request at a time, each answer read in full: the
    baseline is GET /health/live (Litestar and uvicorn only)."""
    listed: dict[str, int] = {}
    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as client:

        async def get(label: str, url: str) -> None:
            response = await client.get(url)
            if response.status_code != 200:
                raise RuntimeError(f"GET {url} answered {response.status_code}")
            listed[label] = len(response.json().get("items", ()))

        plan: list[tuple[str, Run]] = [(BASELINE_HTTP, lambda: get(BASELINE_HTTP, "/health/live"))]
        for label, url in [(label, url_of(query)) for label, query, _ in searches(doctors)]:
            plan.append((label, lambda lb=label, u=url: get(lb, u)))
        latencies, _ = await interleaved(plan, rounds, WARMUP)  # the client's CPU: not shown
    baseline = latencies[BASELINE_HTTP]
    rows = [_row(BASELINE_HTTP, 0, baseline, baseline, None)]
    for label, _, target in searches(doctors):
        rows.append(_row(label, listed[label], latencies[label], baseline, target))
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


class Measured(msgspec.Struct):
    in_process: list[list[object]]
    over_http: list[list[object]]
    contended: list[object]
    double: int


async def measure(args: argparse.Namespace) -> Measured:
    with contextlib.ExitStack() as stack:
        servers = Servers(stack)
        note(f"PostgreSQL: {servers.postgres_label}")
        database_url = stack.enter_context(fresh_database(servers.admin_database_url))
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hp-bench-avail-")))
        env = app_env(
            database_url,
            servers.redis_url,
            workdir / "data",
            LOG_LEVEL="WARNING",
            RATE_LIMIT_USER_PER_MINUTE=str(UNLIMITED_PER_MINUTE),
        )
        settings = load_settings(env)
        services = build_services(
            settings, build_broker(settings.redis_url), pool_max_size=args.concurrency
        )
        await services.open(wait_for_database=True)
        try:
            cases = Wired(services.dependencies())
            note("seeding 100 doctors' calendars")
            doctors, patient = await seed_search(services, cases)
            note(f"searching through the use cases, {args.searches} rounds")
            in_process = await use_case_phase(cases, doctors, patient, args.searches)
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            uvicorn = str(Path(sys.executable).parent / "uvicorn")
            argv = [uvicorn, "--factory", "api.app:create_app", "--no-access-log"]
            argv += ["--host", "127.0.0.1", "--port", str(port)]
            api = Child(argv, env, workdir / "api.log")
            stack.callback(api.stop)
            wait_ready(base, api)
            note(f"searching over HTTP, {args.searches} rounds")
            token = mint_token(env["JWT_SECRET"], str(patient), Role.PATIENT, 3600)
            over_http = await http_phase(base, token, doctors, args.searches)
            api.stop()
            note(f"{args.patients} patients competing")
            contended, double = await contention_phase(
                services, cases, args.patients, args.concurrency
            )
        finally:
            await services.close()
    return Measured(in_process, over_http, contended, double)


async def run(args: argparse.Namespace) -> int:
    measured = await measure(args)
    in_process, over_http = measured.in_process, measured.over_http
    contended, double = measured.contended, measured.double
    heads = ["search", "times listed", "runs", "p50 ms", "p99 ms", "p50/base", "p99/base"]
    heads += ["CPU p50 ms", "target (p99)", ""]
    print("through the use cases, in process (interleaved with the baseline):")
    print(table(heads, in_process))
    print("over HTTP, one uvicorn process, one request at a time (interleaved with the baseline):")
    print(table(heads, over_http))
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
    met = all(row[-1] in ("met", "") for row in in_process + over_http) and double == 0
    return 0 if met else 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--searches", type=int, default=300, help="interleaved rounds, each way")
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    return parser


def _search_figure(row: list[object], baseline_name: str) -> dict[str, object]:
    label, p99, p99_ratio, target, verdict = row[0], row[4], row[6], row[8], row[9]
    return figure(
        f"{label}: p99",
        float(str(p99)),
        "ms",
        baseline_name=baseline_name,
        ratio=float(str(p99_ratio).rstrip("x")),
        target=None if target == "baseline" else f"p99 {target} ms",
        met=None if verdict == "" else verdict == "met",
    )


def figures(quick: bool = False) -> dict[str, object]:
    """For ``python -m bench``: each search's p99 (in process and over HTTP) with its ratio to
    the same run's baseline, and the contention's holds/s, 409s/s and double bookings."""
    argv = ["--searches", "40", "--patients", "200"] if quick else []
    measured = asyncio.run(measure(_parser().parse_args(argv)))
    rows = [_search_figure(r, BASELINE_CASE) for r in measured.in_process[1:]]
    rows += [_search_figure(r, BASELINE_HTTP) for r in measured.over_http[1:]]
    holds_per_second, conflicts_per_second = measured.contended[5], measured.contended[6]
    rows.append(figure("holds", float(str(holds_per_second).replace(",", "")), "holds/s"))
    rows.append(
        figure("409s answered", float(str(conflicts_per_second).replace(",", "")), "409s/s")
    )
    rows.append(
        figure(
            "double bookings",
            measured.double,
            "bookings",
            target="0",
            met=measured.double == 0,
        )
    )
    return {"rows": rows}


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(run(_parser().parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
