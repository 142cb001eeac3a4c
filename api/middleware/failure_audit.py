"""Refused mutations leave a trace: one hook audits every refused write under /api/v1.

A refused command rolls its transaction back, and its audit event with it,
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
from api.middleware import under_api
from api.middleware.rate_limit import FIRST_REFUSAL_STATE_KEY
from api.middleware.request_context import route_template
from domain.audit import AuditEntry, Outcome
from domain.logging import exception_fields

log = structlog.get_logger(__name__)

MUTATIONS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
REFUSALS: dict[int, Outcome] = {
    401: Outcome.DENIED,
    403: Outcome.DENIED,
    429: Outcome.DENIED,
    404: Outcome.FAILED,
    409: Outcome.FAILED,
    422: Outcome.FAILED,
}
ROUTE_RESOURCE = "route"
_AUDITED_STATE_KEY = "refusal_audited"


def mark_refusal_audited(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """Tell the hook this request's refusal is already on the trail (in its own transaction)."""
    connection.scope.setdefault("state", {})[_AUDITED_STATE_KEY] = True


def refusal_entry(scope: Scope, status: int) -> AuditEntry:
    handler = scope.get("route_handler")
    policy = (getattr(handler, "opt", None) or {}).get("policy")
    method = str(scope.get("method", "")).lower()
    return AuditEntry(
        action=policy if isinstance(policy, str) else f"http.{method}",
        resource_type=ROUTE_RESOURCE,
        resource_id=route_template(scope),
        outcome=REFUSALS[status],
        status_code=status,
    )


def _worth_recording(scope: Scope, status: int) -> bool:
    if status not in REFUSALS:
        return False
    state = scope.get("state") or {}
    if state.get(_AUDITED_STATE_KEY):
        return False
    return status != 429 or bool(state.get(FIRST_REFUSAL_STATE_KEY, True))


class FailureAuditMiddleware(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        if scope.get("method") not in MUTATIONS or not under_api(scope["path"]):
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
