"""The audit trail for administrators: filtered pages in chain order, and a chain check.

Pages run oldest first (by seq) so a client can export the trail
incrementally: the last page's cursor is where the next export resumes.
Reading the trail is audited like any other access.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Controller, get
from litestar.params import QueryParameter

from api.audit_context import AuditContextDep
from api.params import SequenceCursor, moment, moment_parameter
from api.problems import api_responses
from api.state import UseCases
from domain.audit.reading import list_events, verify_trail
from domain.audit.trail import AuditQuery, AuditRecord, ChainBreak
from domain.auditing import Outcome

MAX_FILTER_LENGTH = 200


class AuditEventRead(msgspec.Struct, frozen=True, rename="camel"):
    seq: int
    at: datetime
    actor_id: str | None
    actor_role: str | None
    action: str
    resource_type: str
    resource_id: str | None
    outcome: Outcome
    status_code: int | None
    ip: str | None
    user_agent: str | None
    request_id: str | None
    changed_fields: list[str]
    prev_hash: str  # hex: with these two, anyone can re-check an exported page
    hash: str

    @classmethod
    def of(cls, record: AuditRecord) -> AuditEventRead:
        return cls(
            **{
                **msgspec.structs.asdict(record),
                "changed_fields": list(record.changed_fields),
                "prev_hash": record.prev_hash.hex(),
                "hash": record.hash.hex(),
            }
        )


class AuditEventList(msgspec.Struct, frozen=True, rename="camel"):
    items: list[AuditEventRead]
    next_cursor: str | None


class ChainBreakRead(msgspec.Struct, frozen=True, rename="camel"):
    seq: int
    reason: str


class ChainVerification(msgspec.Struct, frozen=True, rename="camel"):
    valid: bool
    checked: int
    first_broken: ChainBreakRead | None

    @classmethod
    def of(cls, valid: bool, checked: int, broken: ChainBreak | None) -> ChainVerification:
        first = ChainBreakRead(seq=broken.seq, reason=broken.reason) if broken else None
        return cls(valid=valid, checked=checked, first_broken=first)


Filter = Annotated[str | None, QueryParameter(min_length=1, max_length=MAX_FILTER_LENGTH)]


class AuditController(Controller):
    path = "/audit"
    tags = ["audit"]

    @get(
        "/",
        operation_id="listAuditEvents",
        summary="Audit events in chain order, filtered; keyset pages (admin)",
        opt={"policy": "audit.list"},
        responses=api_responses(400, 403, 422),
    )
    async def list_audit_events(
        self,
        cases: UseCases,
        audit_context: AuditContextDep,
        actor: Annotated[
            str | None,
            QueryParameter(min_length=1, max_length=MAX_FILTER_LENGTH, description="actor id"),
        ] = None,
        resource_type: Annotated[
            str | None,
            QueryParameter(name="resourceType", min_length=1, max_length=MAX_FILTER_LENGTH),
        ] = None,
        resource_id: Annotated[
            str | None,
            QueryParameter(name="resourceId", min_length=1, max_length=MAX_FILTER_LENGTH),
        ] = None,
        since: Annotated[str | None, moment_parameter("from", "inclusive, RFC 3339")] = None,
        until: Annotated[str | None, moment_parameter("to", "exclusive, RFC 3339")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
        cursor: SequenceCursor = None,
    ) -> AuditEventList:
        query = AuditQuery(
            actor_id=actor,
            resource_type=resource_type,
            resource_id=resource_id,
            since=moment(since, "from"),
            until=moment(until, "to"),
        )
        page = await cases.run(list_events, audit_context, query, limit, cursor)
        return AuditEventList(
            items=[AuditEventRead.of(record) for record in page.records],
            next_cursor=page.next_cursor,
        )

    @get(
        "/verify",
        operation_id="verifyAuditChain",
        summary="Re-check every event's hash and link, oldest first; names the first break",
        opt={"policy": "audit.verify"},
        responses=api_responses(403),
    )
    async def verify_audit_chain(
        self, cases: UseCases, audit_context: AuditContextDep
    ) -> ChainVerification:
        report = await cases.run(verify_trail, audit_context)
        return ChainVerification.of(report.valid, report.checked, report.first_broken)
