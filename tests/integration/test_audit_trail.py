"""Reading and verifying the audit trail: the store on real PostgreSQL, and the admin endpoints."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from domain.adapters.audit.log import PgAuditLog
from domain.adapters.audit.store import PgAuditStore
from domain.audit.trail import AuditQuery
from domain.auditing import AuditContext, AuditEntry, Outcome
from domain.clock import SystemClock
from tests.support.api import ADMIN, api_client, assert_problem, bearer
from tests.support.rows import audit_events, rows

ALICE = AuditContext(actor_id="user-alice", actor_role="patient", ip="10.0.0.1")
CHANTHA = AuditContext(actor_id="user-chantha", actor_role="doctor", ip="10.0.0.2")


@pytest.fixture
async def api(settings):
    async with api_client(settings) as client:
        yield client


async def record(services, context: AuditContext, entry: AuditEntry) -> None:
    async with services.uow() as uow:
        await uow.audit.record(context, entry)


async def seed(services, count: int = 5) -> None:
    """``count`` events alternating between two actors and two patients' profiles."""
    for i in range(count):
        context = ALICE if i % 2 == 0 else CHANTHA
        await record(
            services,
            context,
            AuditEntry(
                action="patient.read" if i % 2 else "patient.update",
                resource_type="patient",
                resource_id=f"patient-{i % 2}",
                changed_fields=("phone",) if i % 2 == 0 else (),
            ),
        )


def tamper(database_url: str, statement: str, params: tuple) -> None:
    """Change the trail the way an intruder with the database owner's rights could."""
    with psycopg.connect(database_url) as conn:
        conn.execute("SET session_replication_role = replica")  # the append-only trigger sleeps
        conn.execute(statement, params)


# --- the store -----------------------------------------------------------------------------


async def test_pages_follow_the_chain_with_a_keyset_cursor(services) -> None:
    await seed(services, 7)
    store = PgAuditStore(services.pool)

    seen, cursor = [], None
    while True:
        page = await store.page(AuditQuery(), limit=3, cursor=cursor)
        seen += [record.seq for record in page.records]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor

    assert seen == sorted(seen) and len(seen) == 7


async def test_filters_are_exact_and_combine(clocked_services, clock) -> None:
    services = clocked_services
    start = clock.now()
    await seed(services, 4)  # all at ``start``
    clock.advance(3600)
    await record(services, ALICE, AuditEntry(action="patient.read", resource_type="patient"))
    store = PgAuditStore(services.pool)

    async def actions(**filters) -> list[str]:
        page = await store.page(AuditQuery(**filters), limit=50, cursor=None)
        return [f"{r.actor_id}:{r.resource_id}" for r in page.records]

    assert await actions(actor_id="user-alice") == [
        "user-alice:patient-0",
        "user-alice:patient-0",
        "user-alice:None",
    ]
    assert await actions(resource_type="patient", resource_id="patient-1") == [
        "user-chantha:patient-1",
        "user-chantha:patient-1",
    ]
    assert await actions(since=start + timedelta(minutes=30)) == ["user-alice:None"]
    assert len(await actions(until=start + timedelta(minutes=30))) == 4
    assert await actions(actor_id="nobody") == []


async def test_verify_walks_the_chain_page_by_page(services) -> None:
    await seed(services, 7)
    report = await PgAuditStore(services.pool).verify(page_size=2)
    assert report.valid and report.checked == 7 and report.first_broken is None


async def test_concurrent_appends_make_one_unbroken_chain(services, database_url) -> None:
    """Appends race in separate transactions (the pool's connections); none waits for another:
    each links, after its commit, what has committed so far under the chain's lock, so the
    chain holds and no link is shared."""

    async def append(i: int) -> None:
        async with services.uow() as uow:
            await uow.audit.record(
                ALICE if i % 2 else CHANTHA,
                AuditEntry(action="patient.read", resource_type="patient", resource_id=str(i)),
            )
            await asyncio.sleep(0.001 * (i % 3))  # stay open a little, as a command does

    await asyncio.gather(*(append(i) for i in range(40)))

    report = await PgAuditStore(services.pool).verify(page_size=7)
    assert report.valid and report.checked == 40
    events = audit_events(database_url)
    assert sorted(event["resource_id"] for event in events) == sorted(str(i) for i in range(40))
    assert len({bytes(event["prev_hash"]) for event in events}) == 40


async def test_an_event_whose_writer_stopped_before_chaining_is_chained_next(
    services, database_url
) -> None:
    """A writer that committed but never chained (killed in between) leaves its event pending:
    it is not in the trail yet, and the next audited write links it, before its own."""
    await seed(services, 2)
    async with services.pool.connection() as conn, conn.transaction():
        await PgAuditLog(conn, SystemClock()).record(
            ALICE, AuditEntry(action="patient.update", resource_type="patient", resource_id="p")
        )  # committed, and no chaining after it
    assert [e["resource_id"] for e in audit_events(database_url)] == ["patient-0", "patient-1"]
    assert rows(database_url, "SELECT count(*) AS n FROM audit_pending")[0]["n"] == 1

    await record(services, CHANTHA, AuditEntry(action="patient.read", resource_type="patient"))

    events = audit_events(database_url)
    assert [e["resource_id"] for e in events] == ["patient-0", "patient-1", "p", None]
    assert rows(database_url, "SELECT count(*) AS n FROM audit_pending")[0]["n"] == 0
    report = await PgAuditStore(services.pool).verify()
    assert report.valid and report.checked == 4


async def test_verifying_links_what_is_pending_first(services, database_url) -> None:
    async with services.pool.connection() as conn, conn.transaction():
        await PgAuditLog(conn, SystemClock()).record(
            ALICE, AuditEntry(action="patient.update", resource_type="patient")
        )

    report = await PgAuditStore(services.pool).verify()

    assert report.valid and report.checked == 1
    assert len(audit_events(database_url)) == 1


async def test_an_event_of_a_rolled_back_write_is_neither_pending_nor_chained(
    services, database_url
) -> None:
    with pytest.raises(RuntimeError):
        async with services.uow() as uow:
            await uow.audit.record(ALICE, AuditEntry(action="x.update", resource_type="x"))
            raise RuntimeError("the write fails after its event was recorded")

    assert audit_events(database_url, outcome=None) == []
    assert rows(database_url, "SELECT count(*) AS n FROM audit_pending")[0]["n"] == 0


async def test_verify_of_an_empty_trail_is_valid(services) -> None:
    report = await PgAuditStore(services.pool).verify()
    assert report.valid and report.checked == 0


async def test_an_altered_event_breaks_the_chain_there(services, database_url) -> None:
    await seed(services, 5)
    third = audit_events(database_url)[2]
    tamper(
        database_url,
        "UPDATE audit_events SET changed_fields = '{}' WHERE seq = %s",
        (third["seq"],),
    )

    report = await PgAuditStore(services.pool).verify(page_size=2)

    assert not report.valid
    assert report.checked == 2
    assert report.first_broken.seq == third["seq"]
    assert "hash" in report.first_broken.reason


async def test_a_deleted_event_breaks_the_chain_at_the_next(services, database_url) -> None:
    await seed(services, 5)
    events = audit_events(database_url)
    tamper(database_url, "DELETE FROM audit_events WHERE seq = %s", (events[1]["seq"],))

    report = await PgAuditStore(services.pool).verify()

    assert not report.valid
    assert report.first_broken.seq == events[2]["seq"]
    assert "prev_hash" in report.first_broken.reason


# --- the endpoints -------------------------------------------------------------------------


async def test_list_is_camel_case_paginated_and_audited(api, services, database_url) -> None:
    await seed(services, 5)

    first = await api.get("/api/v1/audit", params={"limit": 3}, headers=ADMIN)
    assert first.status_code == 200, first.text
    body = first.json()
    assert [item["seq"] for item in body["items"]] == [
        e["seq"] for e in audit_events(database_url)[:3]
    ]
    item = body["items"][0]
    assert item["actorId"] == "user-alice" and item["actorRole"] == "patient"
    assert item["resourceType"] == "patient" and item["resourceId"] == "patient-0"
    assert item["changedFields"] == ["phone"] and item["outcome"] == "success"
    assert len(item["hash"]) == 64 and len(item["prevHash"]) == 64
    assert first.headers["cache-control"] == "no-store"

    second = await api.get(
        "/api/v1/audit", params={"limit": 3, "cursor": body["nextCursor"]}, headers=ADMIN
    )
    assert [item["seq"] for item in second.json()["items"]][:2] == [
        e["seq"] for e in audit_events(database_url)[3:5]
    ]

    reads = audit_events(database_url, "audit.read")
    assert len(reads) == 2
    assert {(r["actor_id"], r["actor_role"], r["resource_type"]) for r in reads} == {
        ("admin-1", "admin", "audit_events")
    }


async def test_list_filters_by_query_parameters(api, services) -> None:
    await seed(services, 4)
    now = datetime.now(UTC)
    params = {
        "actor": "user-chantha",
        "resourceType": "patient",
        "resourceId": "patient-1",
        "from": (now - timedelta(hours=1)).isoformat(),
        "to": (now + timedelta(hours=1)).isoformat(),
    }

    response = await api.get("/api/v1/audit", params=params, headers=ADMIN)

    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert len(items) == 2
    assert {(i["actorId"], i["resourceId"]) for i in items} == {("user-chantha", "patient-1")}
    assert response.json()["nextCursor"] is None


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"cursor": "not-a-cursor"}, 422),
        ({"from": "2030-01-02T00:00:00Z", "to": "2030-01-01T00:00:00Z"}, 422),
        ({"from": "yesterday"}, 400),
        ({"limit": 0}, 400),
        ({"limit": 201}, 400),
    ],
)
async def test_bad_list_queries_are_4xx(api, params, status) -> None:
    assert_problem(await api.get("/api/v1/audit", params=params, headers=ADMIN), status)


async def test_verify_endpoint_reports_a_sound_chain(api, services, database_url) -> None:
    await seed(services, 3)

    response = await api.get("/api/v1/audit/verify", headers=ADMIN)

    assert response.status_code == 200, response.text
    assert response.json() == {"valid": True, "checked": 3, "firstBroken": None}
    reads = audit_events(database_url, "audit.read")
    assert [(r["actor_id"], r["resource_type"]) for r in reads] == [("admin-1", "audit_chain")]
    # the record of that check is itself a sound link
    assert (await api.get("/api/v1/audit/verify", headers=ADMIN)).json()["checked"] == 4


async def test_verify_endpoint_names_the_first_break(api, services, database_url) -> None:
    await seed(services, 3)
    second = audit_events(database_url)[1]
    tamper(
        database_url,
        "UPDATE audit_events SET outcome = 'denied' WHERE seq = %s",
        (second["seq"],),
    )

    body = (await api.get("/api/v1/audit/verify", headers=ADMIN)).json()

    assert body["valid"] is False and body["checked"] == 1
    assert body["firstBroken"]["seq"] == second["seq"]
    assert body["firstBroken"]["reason"]


@pytest.mark.parametrize("path", ["/api/v1/audit", "/api/v1/audit/verify"])
async def test_only_admins_read_the_trail(api, path, database_url) -> None:
    assert_problem(await api.get(path), 401)
    for role in ("patient", "doctor"):
        assert_problem(await api.get(path, headers=bearer("user-x", role)), 403)
    assert audit_events(database_url, "audit.read") == []


async def test_refused_reads_are_not_audited_as_reads(api, services, database_url) -> None:
    await record(services, ALICE, AuditEntry(action="x", resource_type="y", outcome=Outcome.DENIED))
    assert_problem(await api.get("/api/v1/audit", params={"cursor": "%%%"}, headers=ADMIN), 422)
    assert audit_events(database_url, "audit.read") == []
