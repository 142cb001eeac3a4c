"""Reads (audited or not) run without a transaction: no BEGIN or COMMIT round trips. The
audit events such a block records are held and written in one statement as it ends well,
so a read is recorded exactly when it is answered."""

from __future__ import annotations

import pytest
from psycopg.pq import TransactionStatus

from domain.adapters.bootstrap import Services
from domain.adapters.unit_of_work import PgUnitOfWorkFactory
from domain.auditing import AuditContext, AuditEntry
from tests.support.api import api_client
from tests.support.rows import audit_events, rows
from tests.support.users import add_cast, connect

WHO = AuditContext(actor_id="user-1", actor_role="patient", request_id="r-1")


def entry(action: str) -> AuditEntry:
    return AuditEntry(action=action, resource_type="patient", resource_id="p-1")


def pending(services: Services) -> list[dict]:
    return rows(services.settings.database_url, "SELECT action FROM audit_pending ORDER BY id")


async def test_the_events_of_a_block_are_held_until_it_ends_then_written_and_chained(
    services: Services,
) -> None:
    async with services.uow(autocommit=True) as uow:
        assert uow.connection.info.transaction_status is TransactionStatus.IDLE
        await uow.audit.record(WHO, entry("thing.list"))
        await uow.audit.record(WHO, entry("thing.read"))
        assert pending(services) == []  # nothing written while the block runs
    await services.audit_chaining.settle()

    recorded = audit_events(services.settings.database_url)
    assert [(e["action"], e["actor_id"], e["request_id"]) for e in recorded] == [
        ("thing.list", "user-1", "r-1"),
        ("thing.read", "user-1", "r-1"),
    ]
    assert pending(services) == []  # linked into the chain behind the block


async def test_a_block_that_fails_records_nothing(services: Services) -> None:
    with pytest.raises(LookupError):
        async with services.uow(autocommit=True) as uow:
            await uow.audit.record(WHO, entry("thing.read"))
            raise LookupError("the read failed after its event was recorded")
    await services.audit_chaining.settle()

    assert pending(services) == []
    assert audit_events(services.settings.database_url, outcome=None) == []


async def test_in_a_transaction_an_event_is_written_at_once(services: Services) -> None:
    async with services.uow() as uow:
        assert uow.connection.info.transaction_status is TransactionStatus.INTRANS
        await uow.audit.record(WHO, entry("thing.write"))
        cursor = await uow.connection.execute("SELECT count(*) AS n FROM audit_pending")
        assert (await cursor.fetchone())["n"] == 1  # in the transaction, before its commit


@pytest.fixture
def blocks(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each unit of work the API opens has a transaction (False) or not (True)."""
    opened: list[bool] = []
    call = PgUnitOfWorkFactory.__call__

    def recording_call(self: PgUnitOfWorkFactory, *, autocommit: bool = False):  # type: ignore[no-untyped-def]
        opened.append(autocommit)
        return call(self, autocommit=autocommit)

    monkeypatch.setattr(PgUnitOfWorkFactory, "__call__", recording_call)
    return opened


async def test_the_apis_audited_reads_open_no_transaction_and_are_recorded(
    settings, services: Services, blocks: list[bool]
) -> None:
    cast = await add_cast(services)
    await connect(services, cast.alice.id, cast.chantha.id)
    async with api_client(settings) as api:
        patient = f"/api/v1/patients/{cast.alice.id}"
        blocks.clear()  # the cast's own writes above are not the reads under test
        for path in (
            f"{patient}/vitals",
            f"{patient}/vitals/latest",
            f"/api/v1/prescriptions?patientId={cast.alice.id}",
            f"/api/v1/records?patientId={cast.alice.id}",
            "/api/v1/consultations",
            "/api/v1/payments",
            f"{patient}/adherence",
            "/api/v1/me",
            "/api/v1/notifications",
            "/api/v1/notifications/unread-count",
            "/api/v1/notifications/preferences",
            "/api/v1/medicines",
            "/api/v1/connections",
            "/api/v1/alerts",
            "/api/v1/subscriptions/plans",
            "/api/v1/doctors",
        ):
            response = await api.get(path, headers=cast.chantha.headers)
            assert response.status_code == 200, (path, response.text)

    assert blocks and all(blocks), blocks
    actions = [e["action"] for e in audit_events(settings.database_url)]
    for action in (
        "vital.list",
        "vital.latest",
        "prescription.list",
        "consultation.list",
        "adherence.read",
    ):
        assert action in actions


async def test_marking_every_notice_read_is_one_update_without_a_transaction(
    settings, services: Services, blocks: list[bool]
) -> None:
    cast = await add_cast(services)
    async with api_client(settings) as api:
        blocks.clear()
        response = await api.post("/api/v1/notifications/read-all", headers=cast.alice.headers)
        assert response.status_code in (200, 204), response.text

    assert blocks == [True]
