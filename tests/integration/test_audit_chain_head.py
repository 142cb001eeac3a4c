"""The audit chain's newest link, kept beside the trail (migration 0807): the chaining links
onto it and moves it, nothing else may touch it, and verifying checks the trail still
reaches it."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import psycopg
import pytest
from alembic import command

from domain.adapters.audit.store import PgAuditStore
from domain.audit.trail import GENESIS_HASH, AuditQuery, event_tail, record_hash
from domain.auditing import AuditContext, AuditEntry, Outcome
from tests.support.audit import ALICE, record, seed, tamper
from tests.support.databases import (
    alembic_config,
    create_database,
    database_url_for,
    drop_database,
)
from tests.support.rows import audit_events, chain_as_it_stands, rows


def head(database_url: str) -> dict:
    [row] = rows(database_url, "SELECT seq, hash FROM audit_chain_head")
    return row


async def test_the_head_follows_the_newest_link(services, database_url) -> None:
    assert head(database_url) == {"seq": None, "hash": GENESIS_HASH}  # an empty trail

    await seed(services, 3)

    newest = audit_events(database_url)[-1]
    assert head(database_url) == {"seq": newest["seq"], "hash": newest["hash"]}


async def test_the_chaining_links_onto_the_head(services, database_url) -> None:
    """Not onto a search of the trail for its newest event: a head set elsewhere (here by
    hand, past its guard) is what the next event's prev_hash names."""
    await seed(services, 2)
    await services.audit_chaining.settle()
    elsewhere = bytes(range(32))
    tamper(database_url, "UPDATE audit_chain_head SET hash = %s", (elsewhere,))

    await record(services, ALICE, AuditEntry(action="patient.read", resource_type="patient"))

    third = audit_events(database_url)[2]
    assert third["prev_hash"] == elsewhere
    report = await PgAuditStore(services.pool).verify()
    assert not report.valid and report.checked == 2
    assert report.first_broken.seq == third["seq"]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_chain_head SET seq = 1",
        "DELETE FROM audit_chain_head",
        "TRUNCATE audit_chain_head",
        "INSERT INTO audit_chain_head (only_row, seq, hash) VALUES (true, 1, '\\x00')",
    ],
)
async def test_only_the_chaining_moves_the_head(services, database_url, statement) -> None:
    await seed(services, 1)
    await services.audit_chaining.settle()
    before = head(database_url)

    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="audit_chain_pending"):
        rows(database_url, statement)

    assert head(database_url) == before


async def test_an_end_cut_off_the_trail_is_reported(services, database_url) -> None:
    await seed(services, 5)
    events = audit_events(database_url)
    tamper(database_url, "DELETE FROM audit_events WHERE seq >= %s", (events[3]["seq"],))

    report = await PgAuditStore(services.pool).verify()

    # the three left hold link by link; the head still names the fifth
    assert not report.valid and report.checked == 3
    assert report.first_broken.seq == events[4]["seq"]
    assert "missing" in report.first_broken.reason


async def test_a_newest_event_rewritten_with_its_hash_made_anew_is_reported(
    services, database_url
) -> None:
    await seed(services, 3)
    store = PgAuditStore(services.pool)
    newest = (await store.page(AuditQuery(), limit=10, cursor=None)).records[-1]
    rewritten = msgspec.structs.replace(newest, outcome=Outcome.DENIED)
    tamper(
        database_url,
        "UPDATE audit_events SET outcome = 'denied', hash = %s WHERE seq = %s",
        (record_hash(rewritten), newest.seq),
    )

    report = await store.verify()

    assert not report.valid and report.checked == 3  # every link holds on its own
    assert report.first_broken.seq == newest.seq
    assert "head" in report.first_broken.reason


def test_the_head_starts_at_the_newest_link_and_going_down_reads_the_trail_again(
    servers,
) -> None:
    name = create_database(servers.admin_database_url)
    url = database_url_for(servers.admin_database_url, name)
    at = datetime(2031, 3, 9, tzinfo=UTC)
    tail = event_tail(
        at=at,
        context=AuditContext(actor_id=None, actor_role=None),
        entry=AuditEntry(action="x.update", resource_type="x"),
    )

    def link_one() -> None:
        rows(
            url,
            "INSERT INTO audit_pending (tail, at, action, resource_type, outcome) "
            "VALUES (%s, %s, 'x.update', 'x', 'success') RETURNING id",
            (tail, at),
        )
        assert rows(url, "SELECT audit_chain_pending() AS n") == [{"n": 1}]

    def linked_in_one_chain() -> list[dict]:
        chain = chain_as_it_stands(url)
        prevs = [GENESIS_HASH] + [event["hash"] for event in chain[:-1]]
        assert [event["prev_hash"] for event in chain] == prevs
        return chain

    try:
        config = alembic_config(url)
        command.upgrade(config, "0013")
        link_one()  # 0806's chaining, reading the trail
        command.upgrade(config, "0807")
        [first] = linked_in_one_chain()
        assert head(url) == {"seq": first["seq"], "hash": first["hash"]}
        link_one()  # onto the head
        command.downgrade(config, "0013")
        assert not rows(url, "SELECT 1 FROM pg_tables WHERE tablename = 'audit_chain_head'")
        link_one()  # 0806's chaining again: onto the newest link in the trail
        assert len(linked_in_one_chain()) == 3
        command.upgrade(config, "head")
        assert head(url)["seq"] == chain_as_it_stands(url)[-1]["seq"]
    finally:
        drop_database(servers.admin_database_url, name)
