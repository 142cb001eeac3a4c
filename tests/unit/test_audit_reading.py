"""Reading the audit trail is itself on the trail, and a broken chain is reported, through fakes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.audit.reading import list_events, verify_trail
from domain.audit.trail import AuditPage, AuditQuery, ChainBreak, ChainReport
from domain.auditing import SYSTEM
from domain.errors import ValidationFailed
from domain.wiring import Wired
from tests.fakes.audit import FakeAuditLog, audited
from tests.fakes.database import FakeUnitOfWorkFactory


class FakeAuditStore:
    def __init__(self, report: ChainReport) -> None:
        self.report = report
        self.queries: list[AuditQuery] = []

    async def page(self, query: AuditQuery, *, limit: int, cursor: str | None) -> AuditPage:
        self.queries.append(query)
        return AuditPage(records=[], next_cursor=None)

    async def verify(self) -> ChainReport:
        return self.report


INTACT = ChainReport(valid=True, checked=3)


def wired(report: ChainReport = INTACT):
    uow = FakeUnitOfWorkFactory({"audit": FakeAuditLog})
    store = FakeAuditStore(report)
    return uow, store, Wired({"uow_factory": uow, "audit_store": store})


async def test_a_listing_is_recorded_as_a_read_of_the_trail() -> None:
    uow, store, cases = wired()
    await cases.run(list_events, SYSTEM, AuditQuery(resource_type="patient"), 50, None)
    assert store.queries == [AuditQuery(resource_type="patient")]
    assert [entry.action for entry in audited(uow.database)] == ["audit.read"]


async def test_a_window_that_ends_before_it_starts_is_refused_and_not_read() -> None:
    uow, store, cases = wired()
    backwards = AuditQuery(
        since=datetime(2031, 3, 2, tzinfo=UTC), until=datetime(2031, 3, 1, tzinfo=UTC)
    )
    with pytest.raises(ValidationFailed):
        await cases.run(list_events, SYSTEM, backwards, 50, None)
    assert store.queries == [] and audited(uow.database) == []


async def test_verifying_reports_the_first_break_and_is_recorded() -> None:
    broken = ChainReport(
        valid=False, checked=2, first_broken=ChainBreak(seq=3, reason="hash_mismatch")
    )
    uow, _, cases = wired(broken)
    report = await cases.run(verify_trail, SYSTEM)
    assert report == broken
    assert [entry.action for entry in audited(uow.database)] == ["audit.read"]
