"""Reading and verifying the audit trail: the store on real PostgreSQL, and the admin endpoints."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta

import msgspec
import psycopg
import pytest
from alembic import command

from bench.audit_pages import DOCTOR, RECORD, write_trail
from domain.adapters.audit import log as audit_log
from domain.adapters.audit.log import AUDIT_CHAIN_LOCK, PgAuditLog, chain_pending
from domain.adapters.audit.partitions import add_months
from domain.adapters.audit.store import PgAuditStore, page_statement
from domain.audit.trail import AuditQuery, event_hash, event_tail
from domain.auditing import AuditContext, AuditEntry, Outcome
from domain.clock import SystemClock
from tests.support.api import ADMIN, api_client, assert_problem, audit_chained, bearer
from tests.support.audit import ALICE, CHANTHA, record, seed, tamper
from tests.support.databases import (
    alembic_config,
    create_database,
    database_url_for,
    drop_database,
)
from tests.support.plans import nodes, plan_of
from tests.support.rows import audit_events, chain_as_it_stands, rows


@pytest.fixture
async def api(settings):
    async with api_client(settings) as client:
        yield client


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


async def entries_read(conn, statement, params) -> tuple[int, bool]:
    """How many rows the scans of ``statement``'s executed plan read (those a filter then
    dropped included), and whether it sorts."""
    plan = await plan_of(conn, statement, params, analyze=True)
    read = sum(
        (
            node["Actual Rows"]
            + node.get("Rows Removed by Filter", 0)
            + node.get("Rows Removed by Index Recheck", 0)
        )
        * node["Actual Loops"]
        for node in nodes(plan)
        if "Scan" in node["Node Type"]
    )
    return read, any(node["Node Type"] == "Sort" for node in nodes(plan))


@pytest.mark.parametrize("query", [DOCTOR, RECORD], ids=["actor", "resource"])
async def test_a_filtered_page_reads_about_what_it_shows_however_long_the_history(
    services, database_url, query
) -> None:
    """Three months of 6,000 events, 120 of them a doctor's reads of one record, written as
    bench.audit_pages writes a trail: the pages follow on from their cursors, and an index
    gives a filtered page in chain order from each month (migration 0808), so it is neither
    gathered whole and sorted nor found by walking the trail past the events of others.

    On a trail this small PostgreSQL may rightly gather 120 events and sort them, so the plan
    is asked for with sorts and bitmap scans discouraged: without 0808's indexes it must
    still sort, or walk 150 events for each it shows. At the size where it matters the
    planner takes the ordered scan itself (bench.audit_pages)."""
    this_month = datetime.now(UTC).date().replace(day=1)
    write_trail(database_url, add_months(this_month, -3), months=3, per_month=6000, one_in=150)
    store = PgAuditStore(services.pool)
    first = await store.page(query, limit=50, cursor=None)
    second = await store.page(query, limit=50, cursor=first.next_cursor)

    assert [r.seq for r in first.records + second.records] == [150 * n for n in range(1, 101)]
    async with services.pool.connection() as conn, conn.transaction():
        await conn.execute("SET LOCAL enable_sort = off")
        await conn.execute("SET LOCAL enable_bitmapscan = off")
        read, sorts = await entries_read(conn, *page_statement(query, 7500, 51))
    assert not sorts
    assert read <= 51 * 4  # at most a page from each month's partition (and the default)


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


def linked(database_url: str) -> list[str | None]:
    """The resource ids of the events in the chain as it stands (nothing pending linked)."""
    return [event["resource_id"] for event in chain_as_it_stands(database_url)]


def pending_count(database_url: str) -> int:
    return rows(database_url, "SELECT count(*) AS n FROM audit_pending")[0]["n"]


async def test_writes_answer_before_their_chaining_and_share_it(
    services, database_url, monkeypatch
) -> None:
    """The chaining runs behind the writes, one at a time: the writes that commit while one
    runs are linked together by the next, so there are fewer chainings than writes."""
    chainings = []
    real = audit_log.chain_after_commit

    async def counted(pool, recorded):  # type: ignore[no-untyped-def]
        chainings.append(recorded)
        await real(pool, recorded)

    monkeypatch.setattr(audit_log, "chain_after_commit", counted)

    async def append(i: int) -> None:
        await record(
            services,
            ALICE,
            AuditEntry(action="patient.read", resource_type="patient", resource_id=str(i)),
        )

    await asyncio.gather(*(append(i) for i in range(30)))
    await services.audit_chaining.settle()

    assert sum(chainings) == 30  # every event's chaining was asked for once
    assert len(chainings) < 30  # and shared: fewer chainings than writes
    assert sorted(linked(database_url), key=int) == [str(i) for i in range(30)]
    assert pending_count(database_url) == 0
    report = await PgAuditStore(services.pool).verify()
    assert report.valid and report.checked == 30


async def test_a_write_answers_with_its_event_committed_while_the_chain_is_busy(
    services, database_url
) -> None:
    """A write does not wait for the chain: with the chain's lock held elsewhere, it answers
    at once (its chaining would wait up to LINK_LOCK_TIMEOUT, 5 s), its event committed and
    pending; the chaining behind it links the event once the lock is free."""
    with psycopg.connect(database_url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (AUDIT_CHAIN_LOCK,))
        entry = AuditEntry(action="patient.read", resource_type="patient", resource_id="p")
        await asyncio.wait_for(record(services, ALICE, entry), timeout=2.0)
        assert (linked(database_url), pending_count(database_url)) == ([], 1)
        holder.execute("SELECT pg_advisory_unlock(%s)", (AUDIT_CHAIN_LOCK,))

    await services.audit_chaining.settle()
    assert (linked(database_url), pending_count(database_url)) == (["p"], 0)


async def test_an_event_whose_writer_stopped_before_chaining_is_chained_next(
    services, database_url
) -> None:
    """A writer that committed but never chained (killed in between) leaves its event pending:
    it is not in the trail yet, and the next audited write links it, before its own."""
    await seed(services, 2)
    await services.audit_chaining.settle()
    async with services.pool.connection() as conn, conn.transaction():
        await PgAuditLog(conn, SystemClock()).record(
            ALICE, AuditEntry(action="patient.update", resource_type="patient", resource_id="p")
        )  # committed, and no chaining after it
    assert linked(database_url) == ["patient-0", "patient-1"]
    assert pending_count(database_url) == 1

    await record(services, CHANTHA, AuditEntry(action="patient.read", resource_type="patient"))
    await services.audit_chaining.settle()

    assert linked(database_url) == ["patient-0", "patient-1", "p", None]
    assert pending_count(database_url) == 0
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


# --- pending events: guarded, linked in batches, linked by reads ----------------------------


async def leave_pending(services, context: AuditContext, entry: AuditEntry) -> None:
    """Record and commit an event with no chaining after it (a writer killed in between)."""
    async with services.pool.connection() as conn, conn.transaction():
        await PgAuditLog(conn, SystemClock()).record(context, entry)


class RecordingLog:
    """Stands in for the module's structlog logger: what was logged, at which level."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str, dict]] = []

    def error(self, event: str, **fields) -> None:
        self.lines.append(("error", event, fields))

    def warning(self, event: str, **fields) -> None:
        self.lines.append(("warning", event, fields))


async def test_a_failed_chaining_after_commit_keeps_the_2xx_and_the_next_read_links_it(
    api, database_url, monkeypatch
) -> None:
    """The chain's lock is held elsewhere (a long upkeep, a stuck chainer): the read's own
    linking and the chaining after its record's commit both give up; the 200 still comes,
    the record waits in audit_pending, it is logged as an error, and the next read (its
    page links first) shows it."""
    logged = RecordingLog()
    monkeypatch.setattr(audit_log, "log", logged)
    monkeypatch.setattr(audit_log, "LINK_LOCK_TIMEOUT", "200ms")
    with psycopg.connect(database_url) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (AUDIT_CHAIN_LOCK,))

        first = await api.get("/api/v1/audit", headers=ADMIN)

        assert first.status_code == 200, first.text
        assert first.json()["items"] == []
        await audit_chained(api)  # the chaining behind the read's record gives up too
        assert pending_count(database_url) == 1
        assert linked(database_url) == []
        holder.execute("SELECT pg_advisory_unlock(%s)", (AUDIT_CHAIN_LOCK,))
    failures = [(level, fields) for level, event, fields in logged.lines]
    assert [level for level, _ in failures] == ["error", "error"]
    assert failures[0][1]["during"] == "read" and failures[0][1]["pending"] == 0
    assert failures[1][1]["pending"] == 1  # the read's own record, after its commit

    second = await api.get("/api/v1/audit", headers=ADMIN)

    assert [item["action"] for item in second.json()["items"]] == ["audit.read"]
    await audit_chained(api)
    assert pending_count(database_url) == 0  # and the second read's record was linked too


async def test_pending_events_cannot_be_changed_or_deleted_but_by_the_chaining(
    services, database_url
) -> None:
    await leave_pending(services, ALICE, AuditEntry(action="patient.update", resource_type="p"))
    for statement in (
        "UPDATE audit_pending SET action = 'patient.read'",
        "DELETE FROM audit_pending",
        "TRUNCATE audit_pending",
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            rows(database_url, statement)
    assert pending_count(database_url) == 1
    # the chaining's own delete goes through, and leaves the guard up behind it
    with (
        psycopg.connect(database_url) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        assert conn.execute("SELECT audit_chain_pending()").fetchone()[0] == 1
        conn.execute(
            "INSERT INTO audit_pending (tail, at, action, resource_type, outcome) "
            "VALUES ('\\x5d', now(), 'x', 'y', 'success')"
        )
        conn.execute("DELETE FROM audit_pending")
    assert pending_count(database_url) == 1  # that transaction rolled back: the event is too
    assert await chain_pending(services.pool) == 1
    assert pending_count(database_url) == 0
    assert [e["action"] for e in audit_events(database_url)] == ["patient.update"]


async def test_the_chaining_runs_in_read_committed_only_under_its_own_lock_key(
    services, database_url
) -> None:
    await leave_pending(services, ALICE, AuditEntry(action="patient.update", resource_type="p"))
    for level in ("REPEATABLE READ", "SERIALIZABLE"):
        with psycopg.connect(database_url) as conn:
            conn.execute(f"SET TRANSACTION ISOLATION LEVEL {level}")
            with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState, match="READ COMMITTED"):
                conn.execute("SELECT audit_chain_pending()")
    with psycopg.connect(database_url) as conn, pytest.raises(psycopg.errors.UndefinedFunction):
        conn.execute("SELECT audit_chain_pending(%s::bigint)", (AUDIT_CHAIN_LOCK,))  # 0805's
    # the function takes the real lock itself: while another session holds it, it waits
    with psycopg.connect(database_url) as holder, psycopg.connect(database_url) as chainer:
        holder.execute("SELECT pg_advisory_xact_lock(%s)", (AUDIT_CHAIN_LOCK,))
        chainer.execute("SET lock_timeout = '100ms'")
        with pytest.raises(psycopg.errors.LockNotAvailable):
            chainer.execute("SELECT audit_chain_pending()")
    assert pending_count(database_url) == 1
    assert await chain_pending(services.pool) == 1


async def test_a_backlog_is_linked_in_batches_in_order(services, database_url) -> None:
    for i in range(7):
        await leave_pending(
            services,
            ALICE,
            AuditEntry(action="patient.read", resource_type="p", resource_id=str(i)),
        )
    with psycopg.connect(database_url) as conn:  # one call links one batch, the oldest first
        assert conn.execute("SELECT audit_chain_pending(3)").fetchone()[0] == 3
    assert linked(database_url) == ["0", "1", "2"]
    assert pending_count(database_url) == 4

    assert await chain_pending(services.pool, batch=3) == 4  # 3, then 1: a short batch ends it

    assert linked(database_url) == [str(i) for i in range(7)]
    assert pending_count(database_url) == 0
    report = await PgAuditStore(services.pool).verify(page_size=2)
    assert report.valid and report.checked == 7


async def test_a_write_committing_after_a_later_one_is_linked_once_after_it(
    services, database_url
) -> None:
    """A records and stays open; B records, commits and chains; A commits: A waits in
    audit_pending (B's chaining could not see it), then one chaining links it, once."""
    async with services.pool.connection() as a_conn:
        async with a_conn.transaction():
            await PgAuditLog(a_conn, SystemClock()).record(
                ALICE, AuditEntry(action="a.update", resource_type="p")
            )
            await record(services, CHANTHA, AuditEntry(action="b.update", resource_type="p"))
            await services.audit_chaining.settle()
            assert [e["action"] for e in chain_as_it_stands(database_url)] == ["b.update"]
            assert pending_count(database_url) == 0  # A's row is not committed yet
        # A has committed, and (like a writer killed here) has not chained
        assert pending_count(database_url) == 1
        assert [e["action"] for e in chain_as_it_stands(database_url)] == ["b.update"]

    assert await chain_pending(services.pool) == 1
    assert await chain_pending(services.pool) == 0

    events = audit_events(database_url)
    assert [e["action"] for e in events] == ["b.update", "a.update"]
    assert bytes(events[1]["prev_hash"]) == bytes(events[0]["hash"])
    report = await PgAuditStore(services.pool).verify()
    assert report.valid and report.checked == 2


# The hash before migration 0805 (commit e78afee's domain/audit/trail.py): SHA-256 of the
# previous hash and the msgspec JSON array of the whole event, seq first.
def hash_before_0805(prev: bytes, seq: int, at: datetime, context, entry) -> bytes:
    body = [
        seq,
        at.astimezone(UTC).isoformat(timespec="microseconds"),
        context.actor_id,
        context.actor_role,
        entry.action,
        entry.resource_type,
        entry.resource_id,
        entry.outcome.value,
        entry.status_code,
        context.ip,
        context.user_agent,
        context.request_id,
        list(entry.changed_fields),
    ]
    return hashlib.sha256(prev + msgspec.json.encode(body)).digest()


VECTOR_AT = datetime(2031, 3, 9, 12, 30, 1, 234567, tzinfo=UTC)
VECTOR_PREV = bytes(range(32))
VECTOR_CONTEXT = AuditContext(
    actor_id="user-alice",
    actor_role="patient",
    ip="10.0.0.1",
    user_agent="curl/8",
    request_id="req-1",
)
VECTOR_ENTRY = AuditEntry(
    action="patient.update",
    resource_type="patient",
    resource_id="p-1",
    status_code=200,
    changed_fields=("phone", "name"),
)
# sha256(VECTOR_PREV + b'[42,"2031-03-09T12:30:01.234567+00:00","user-alice","patient",
# "patient.update","patient","p-1","success",200,"10.0.0.1","curl/8","req-1",["phone","name"]]')
VECTOR_HASH = "32000f51042907220bdce280d2c7424ed6aaa165706aabd67b1fbd4387cf4d62"


async def test_a_known_event_hashes_as_before_0805_in_python_and_in_sql(database_url) -> None:
    args = (VECTOR_PREV, 42, VECTOR_AT, VECTOR_CONTEXT, VECTOR_ENTRY)
    assert hash_before_0805(*args).hex() == VECTOR_HASH
    python = event_hash(
        VECTOR_PREV, seq=42, at=VECTOR_AT, context=VECTOR_CONTEXT, entry=VECTOR_ENTRY
    )
    assert python.hex() == VECTOR_HASH
    tail = event_tail(at=VECTOR_AT, context=VECTOR_CONTEXT, entry=VECTOR_ENTRY)
    [row] = rows(  # the expression audit_chain_pending hashes with
        database_url,
        "SELECT sha256(%s || convert_to('[' || %s::bigint::text, 'UTF8') || %s) AS h",
        (VECTOR_PREV, 42, tail),
    )
    assert bytes(row["h"]).hex() == VECTOR_HASH


ODD = AuditContext(
    actor_id='user-"quoted"\\back',
    actor_role="doctor",
    ip="::1",
    user_agent="Mozilla/5.0 (ខ្មែរ; é) \u2028 line\nbreak\ttab \U0001f9ea </script>",
    request_id="req-\u00e9\u200b",
)
ODD_ENTRY = AuditEntry(
    action="patient.update",
    resource_type="patient",
    resource_id='សុខា/\\u0041"}',
    status_code=201,
    changed_fields=("ឈ្មោះ", 'a"b', "c\\d", "e\nf"),
)


async def test_non_ascii_and_escaped_fields_round_trip_and_hash_as_before(
    services, database_url
) -> None:
    await record(services, ALICE, AuditEntry(action="patient.read", resource_type="patient"))
    await record(services, ODD, ODD_ENTRY)

    page = await PgAuditStore(services.pool).page(AuditQuery(), limit=10, cursor=None)

    first, odd = page.records
    assert (odd.actor_id, odd.user_agent, odd.request_id) == (
        ODD.actor_id,
        ODD.user_agent,
        ODD.request_id,
    )
    assert odd.resource_id == ODD_ENTRY.resource_id
    assert odd.changed_fields == ODD_ENTRY.changed_fields
    assert odd.prev_hash == first.hash
    assert odd.hash == hash_before_0805(first.hash, odd.seq, odd.at, ODD, ODD_ENTRY)
    report = await PgAuditStore(services.pool).verify()
    assert report.valid and report.checked == 2


def execute(url: str, statement: str, params: tuple = ()) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(statement, params)


def test_going_down_from_0806_restores_0805s_chaining(servers) -> None:
    """0806 down: 0805's function (the key as a parameter) and no guard; 0805 down links what
    is pending (with the table locked against writers) before it drops the table."""
    name = create_database(servers.admin_database_url)
    url = database_url_for(servers.admin_database_url, name)
    add_pending = (
        "INSERT INTO audit_pending (tail, at, action, resource_type, outcome) "
        "VALUES (%s, %s, 'x.update', 'x', 'success')"
    )
    at = datetime(2031, 3, 9, tzinfo=UTC)
    tail = event_tail(
        at=at,
        context=AuditContext(actor_id=None, actor_role=None),
        entry=AuditEntry(action="x.update", resource_type="x"),
    )
    try:
        config = alembic_config(url)
        command.upgrade(config, "head")
        command.downgrade(config, "0705")
        execute(url, add_pending, (tail, at))
        execute(url, "UPDATE audit_pending SET action = 'x.update'")  # no guard any more
        assert rows(url, "SELECT audit_chain_pending(%s::bigint) AS n", (AUDIT_CHAIN_LOCK,)) == [
            {"n": 1}
        ]
        execute(url, add_pending, (tail, at))
        command.downgrade(config, "0605")  # 0805 down: the pending event is linked first
        assert "audit_pending" not in {
            r["tablename"] for r in rows(url, "SELECT tablename FROM pg_tables")
        }
        assert [e["action"] for e in chain_as_it_stands(url)] == ["x.update", "x.update"]
        command.upgrade(config, "head")  # and the guard is back
        execute(url, add_pending, (tail, at))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            execute(url, "DELETE FROM audit_pending")
    finally:
        drop_database(servers.admin_database_url, name)
