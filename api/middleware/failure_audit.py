"""Refused requests leave a trace: refused writes, and refused reads of patient data.

What is recorded, for a route under /api/v1:

- a write (POST, PUT, PATCH, DELETE) answered 401, 403, 429, 404, 409 or 422:
  someone tried to change something and was turned away;
- a read (GET, HEAD) of a route whose policy has ``patient_data`` answered
  403, 404 or 429, when the caller's token was valid: a doctor probing record
  ids gets 404s that look like missing records, and this is the only trace
  of it. A read's 401 is never recorded (it has no actor, and an anonymous
  flood must not buy audit writes), nor is a refused read of any other route
  (jobs, accounts): those reveal nothing about a patient.

A refused request rolls its transaction back, and any audit event with it,
so the refusal is recorded here, in a transaction of its own, when the
response starts: before the client hears the answer. The event names the
route's policy as the action and the route *template* as the resource (the
raw path may carry ids a caller made up, and never reaches the trail), with
the actor when the token was valid.

401, 403 and 429 are ``denied`` (the caller may not); 404, 409 and 422 are
``failed`` (the request did not fit). Of a burst of 429s only the one that
crossed the limit is recorded, or a flood would buy one audit write per
request. A handler that records its own refusal (a failed login, say) calls
``mark_refusal_audited`` so it is not recorded twice. If the record cannot
be written, that is logged and the answer still goes out.
"""

from __future__ import annotations

from typing import Any

import structlog
from litestar.connection import ASGIConnection, Request
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from api.audit_context import audit_context_of
from api.auth import principal_of
from api.middleware import under_api
from api.middleware.rate_limit import FIRST_REFUSAL_STATE_KEY
from api.middleware.request_context import route_template
from domain.auditing import AuditEntry, Outcome
from domain.errors import Unauthorized
from domain.logging import exception_fields
from domain.policies import UnknownPolicy, policy_named

log = structlog.get_logger(__name__)

MUTATIONS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
READS = frozenset({"GET", "HEAD"})
REFUSALS: dict[int, Outcome] = {
    401: Outcome.DENIED,
    403: Outcome.DENIED,
    429: Outcome.DENIED,
    404: Outcome.FAILED,
    409: Outcome.FAILED,
    422: Outcome.FAILED,
}
# Of a read, only a known caller's refusals: a 401 has no actor to put on the trail.
READ_REFUSALS = frozenset({403, 404, 429})
ROUTE_RESOURCE = "route"
_AUDITED_STATE_KEY = "refusal_audited"


def mark_refusal_audited(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """Tell the hook this request's refusal is already on the trail (in its own transaction)."""
    connection.scope.setdefault("state", {})[_AUDITED_STATE_KEY] = True


def _policy_name(scope: Scope) -> object:
    handler = scope.get("route_handler")
    return (getattr(handler, "opt", None) or {}).get("policy")


def refusal_entry(scope: Scope, status: int) -> AuditEntry:
    policy = _policy_name(scope)
    method = str(scope.get("method", "")).lower()
    return AuditEntry(
        action=policy if isinstance(policy, str) else f"http.{method}",
        resource_type=ROUTE_RESOURCE,
        resource_id=route_template(scope),
        outcome=REFUSALS[status],
        status_code=status,
    )


def _reads_patient_data(scope: Scope) -> bool:
    try:
        return policy_named(_policy_name(scope)).patient_data
    except UnknownPolicy:  # the policy guard answers 500 for it; nothing to audit
        return False


def _watched(scope: Scope) -> bool:
    """Whether this request's refusal may be recorded at all: decided before it runs."""
    if not under_api(scope["path"]):
        return False
    method = scope.get("method")
    return method in MUTATIONS or (method in READS and _reads_patient_data(scope))


def _caller_known(scope: Scope) -> bool:
    try:
        principal_of(ASGIConnection(scope))
    except Unauthorized:
        return False
    return True


def _worth_recording(scope: Scope, status: int) -> bool:
    if status not in REFUSALS:
        return False
    state = scope.get("state") or {}
    if state.get(_AUDITED_STATE_KEY):
        return False
    if status == 429 and not state.get(FIRST_REFUSAL_STATE_KEY, True):
        return False
    if scope.get("method") in READS:
        return status in READ_REFUSALS and _caller_known(scope)
    return True


class FailureAuditMiddleware(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        if not _watched(scope):
            await next_app(scope, receive, send)
            return

        async def audit_refusal(message: Message) -> None:
            if message["type"] == "http.response.start" and _worth_recording(
                scope, message["status"]
            ):
                await _record(scope, receive, message["status"])
            await send(message)

        await next_app(scope, receive, audit_refusal)


async def _record(scope: Scope, receive: Receive, status: int) -> None:
    entry = refusal_entry(scope, status)
    try:
        context = audit_context_of(Request(scope, receive))
        async with scope["litestar_app"].state.services.uow() as uow:
            await uow.audit.record(context, entry)
    except Exception as exc:  # the refusal must still reach the client
        log.error(
            "refusal_audit_failed",
            action=entry.action,
            route=entry.resource_id,
            status=status,
            **exception_fields(exc),
        )
