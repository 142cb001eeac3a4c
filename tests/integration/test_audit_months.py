"""A page of the audit trail opens only the months that can hold it (migration 0809,
domain/adapters/audit/months.py), and still shows every event once, in chain order."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from alembic import command

from bench.audit_pages import DOCTOR, RECORD, write_trail
from domain.adapters.audit import store as audit_store
from domain.adapters.audit.log import chain_pending
from domain.adapters.audit.partitions import add_months
from domain.adapters.audit.store import PgAuditStore, page_statement, read_page
from domain.adapters.cursors import encode_sequence
from domain.audit.trail import AuditQuery
from domain.auditing import AuditContext, AuditEntry
from domain.errors import UnstorableValue
from tests.support.audit import record
from tests.support.databases import (
    alembic_config,
    create_database,
    database_url_for,
    drop_database,
)
from tests.support.plans import Recording, relations_read
from tests.support.rows import rows

PARTITION = re.compile(r"audit_events_(\d{4}_\d{2}|default)")
LATE = AuditContext(actor_id="bench-doctor", actor_role="doctor")  # DOCTOR's actor


def this_month() -> datetime:
    return datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


async def record_at(services, clock, at: datetime, resource_id: str = "bench-record") -> None:
    """An event of the doctor's, stamped ``at`` and chained now, after everything before it."""
    clock.advance((at - clock.now()).total_seconds())
    await record(
        services,
        LATE,
        AuditEntry(action="record.read", resource_type="record", resource_id=resource_id),
    )
    await chain_pending(services.pool)


def expected(database_url: str, query: AuditQuery) -> list[int]:
    """What ``query`` selects, read plainly: every event, filtered here, in chain order."""
    found = rows(
        database_url,
        "SELECT seq, at, actor_id, resource_type, resource_id FROM audit_events ORDER BY seq",
    )
    return [
        event["seq"]
        for event in found
        if all(
            wanted is None or event[column] == wanted
            for column, wanted in (
                ("actor_id", query.actor_id),
                ("resource_type", query.resource_type),
                ("resource_id", query.resource_id),
            )
        )
        and (query.since is None or event["at"] >= query.since)
        and (query.until is None or event["at"] < query.until)
    ]


async def walk(store: PgAuditStore, query: AuditQuery, limit: int) -> list[int]:
    seen, cursor = [], None
    while True:
        page = await store.page(query, limit=limit, cursor=cursor)
        seen += [event.seq for event in page.records]
        if page.next_cursor is None:
            return seen
        cursor = page.next_cursor


async def test_pages_through_many_months_show_every_event_once_in_chain_order(
    clocked_services, clock, database_url
) -> None:
    """Six months written as bench.audit_pages writes them, then events chained late into
    their months: one stamped in the second month (its writer died, a later chaining linked
    it), one stamped a second before the newest month began, one in the newest month, and
    one stamped months ahead (a clock ran ahead: no partition is made for its month, so it
    waits in the default one). Every walk, filtered or not, with cursors at every depth,
    shows exactly what a plain read of the whole trail selects."""
    start = add_months(this_month().date(), -6)
    write_trail(database_url, start, months=6, per_month=300, one_in=7)
    second_month = datetime(start.year, start.month, 1, tzinfo=UTC) + timedelta(days=40)
    newest = this_month() - timedelta(days=1)
    await record_at(clocked_services, clock, second_month)
    await record_at(clocked_services, clock, newest.replace(day=1) - timedelta(seconds=1))
    await record_at(clocked_services, clock, newest - timedelta(hours=1), "other-record")
    await record_at(clocked_services, clock, this_month() + timedelta(days=300))
    store = PgAuditStore(clocked_services.pool)
    middle = this_month() - timedelta(days=75)
    queries = [
        AuditQuery(),
        DOCTOR,
        RECORD,
        AuditQuery(since=middle),
        AuditQuery(until=middle),
        AuditQuery(actor_id=DOCTOR.actor_id, since=second_month - timedelta(days=1)),
        AuditQuery(since=second_month, until=second_month + timedelta(days=3)),
    ]

    for query in queries:
        wanted = expected(database_url, query)
        assert wanted, query
        for limit in (1, 13, 250):
            assert await walk(store, query, limit) == wanted, (query, limit)
    assert 1801 in expected(database_url, RECORD)  # the late one is in its month
    assert rows(database_url, "SELECT seq FROM audit_events_default") == [{"seq": 1804}]


async def months_opened(conn, query: AuditQuery, after: int | None, limit: int) -> set[str]:
    """The partitions the statements of ``read_page`` open, read from their plans."""
    recording = Recording(conn)
    await read_page(recording, query, after, limit)
    opened: set[str] = set()
    for statement, params in recording.sent:
        opened |= await relations_read(conn, statement, params, PARTITION)
    return opened


@pytest.mark.parametrize(
    ("query", "after", "months"),
    [
        (AuditQuery(), None, 2),  # the oldest events: the first two months
        (AuditQuery(), 6000 - 60, 1),  # the newest: the last month
        (DOCTOR, 3000, 3),  # ten of the doctor's a month: two months, then the one it lacks
        (RECORD, 6000 - 30, 1),
    ],
    ids=["trail-first", "trail-last", "doctor-middle", "record-last"],
)
async def test_a_page_opens_only_the_months_that_can_hold_it(
    services, database_url, query, after, months
) -> None:
    """A year of trail (12 partitions and the default): a page that fills within a few months
    opens those and no others, where one statement over the whole trail opens every one."""
    write_trail(database_url, add_months(this_month().date(), -12), 12, 500, one_in=50)
    async with services.pool.connection() as conn, conn.transaction():
        opened = await months_opened(conn, query, after, 21)
        everything = await relations_read(conn, *page_statement(query, after, 21), PARTITION)

    assert len(opened) == months, opened
    assert len(everything) >= 12


async def test_an_event_chained_while_a_page_is_read_is_not_skipped(
    clocked_services, clock, database_url, monkeypatch
) -> None:
    """Between the read of the months' ranges and the read of the events, an event is chained
    into an old month, whose range the page had found to end before its cursor, then another
    into a month the page reads. Both are left to the next page: the page shows no event past
    the chain's head it read with the ranges, so it does not show the second and pass the
    first."""
    start = add_months(this_month().date(), -3)
    write_trail(database_url, start, months=3, per_month=300, one_in=7)
    store = PgAuditStore(clocked_services.pool)
    months_after = audit_store._months_after
    chained: list[bool] = []

    async def chain_meanwhile(conn, query, after_seq):
        months = await months_after(conn, query, after_seq)
        if not chained:
            chained.append(True)
            first_month = datetime(start.year, start.month, 1, tzinfo=UTC)
            await record_at(clocked_services, clock, first_month + timedelta(days=3))
            await record_at(clocked_services, clock, this_month() - timedelta(days=2))
        return months

    monkeypatch.setattr(audit_store, "_months_after", chain_meanwhile)
    page = await store.page(AuditQuery(), limit=1000, cursor=encode_sequence(350))
    later = await store.page(AuditQuery(), limit=1000, cursor=encode_sequence(900))

    assert [event.seq for event in page.records] == list(range(351, 901))
    assert page.next_cursor is None
    assert [event.seq for event in later.records] == [901, 902]


async def test_the_chaining_writes_a_range_only_when_a_month_opens_or_an_older_one_widens(
    clocked_services, clock, database_url
) -> None:
    """The newest month is open: its range reaches to the chain's head, so linking an event
    into it writes nothing. A later month's first event closes it (past every event it
    holds) and opens that one; an event stamped in an older month widens that month."""
    months_now = "SELECT month, first_seq, last_seq, xmin::text AS version FROM audit_months"
    older, newer = this_month() - timedelta(days=40), this_month() + timedelta(hours=1)
    await record_at(clocked_services, clock, older)
    opened = rows(database_url, months_now)

    await record_at(clocked_services, clock, older + timedelta(days=1))
    await record_at(clocked_services, clock, older + timedelta(days=2))
    assert rows(database_url, months_now) == opened  # not written: the head covers them

    await record_at(clocked_services, clock, newer)
    await record_at(clocked_services, clock, older + timedelta(days=3))  # a straggler
    await record_at(clocked_services, clock, newer + timedelta(hours=1))

    ranges = {r["month"]: (r["first_seq"], r["last_seq"]) for r in rows(database_url, months_now)}
    assert ranges == {older.date().replace(day=1): (1, 5), newer.date(): (4, 4)}
    page = await PgAuditStore(clocked_services.pool).page(AuditQuery(), limit=10, cursor=None)
    assert [event.seq for event in page.records] == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize("months", [0, 2], ids=["no trail", "a trail"])
async def test_a_nul_character_in_a_filter_is_refused_whether_or_not_a_month_is_read(
    services, database_url, months
) -> None:
    """As PostgreSQL refuses it when a statement carries it, though with no month past the
    cursor a page sends none (the API answers 400 ``unstorable_value`` either way)."""
    if months:
        write_trail(database_url, add_months(this_month().date(), -months), months, 100)
    store = PgAuditStore(services.pool)

    for query in (AuditQuery(actor_id="a\x00b"), AuditQuery(resource_type="r", resource_id="\x00")):
        with pytest.raises(UnstorableValue):
            await store.page(query, limit=10, cursor=None)


def test_the_migration_fills_the_months_from_the_trail_and_they_only_widen(servers) -> None:
    name = create_database(servers.admin_database_url)
    url = database_url_for(servers.admin_database_url, name)
    months_now = "SELECT month, first_seq, last_seq FROM audit_months ORDER BY month"
    try:
        config = alembic_config(url)
        command.upgrade(config, "0808")
        write_trail(url, add_months(this_month().date(), -3), 3, 100)
        command.upgrade(config, "head")

        assert rows(url, months_now) == [
            {"month": add_months(this_month().date(), n), "first_seq": f, "last_seq": f + 99}
            for n, f in ((-3, 1), (-2, 101), (-1, 201))
        ]
        month = add_months(this_month().date(), -2)
        for refused in (
            "UPDATE audit_months SET last_seq = last_seq - 1 WHERE month = %(m)s",
            "UPDATE audit_months SET first_seq = first_seq + 1 WHERE month = %(m)s",
            "DELETE FROM audit_months WHERE month = %(m)s",
            "TRUNCATE audit_months",
        ):
            with (
                pytest.raises(psycopg.errors.InsufficientPrivilege),
                psycopg.connect(url) as conn,
            ):
                conn.execute(refused, {"m": month})
        with psycopg.connect(url) as conn:  # widening is let through
            conn.execute("UPDATE audit_months SET last_seq = 250 WHERE month = %s", (month,))
        assert rows(url, months_now)[1]["last_seq"] == 250

        command.downgrade(config, "0808")
        assert rows(url, "SELECT to_regclass('audit_months') AS t") == [{"t": None}]
        command.upgrade(config, "head")
        assert len(rows(url, months_now)) == 3
    finally:
        drop_database(servers.admin_database_url, name)
