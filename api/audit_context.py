"""Who is acting and from where, for the audit trail; one dependency every controller shares.

The caller is taken from a verified token when there is one (login and
sign-up have none: the actor is then unknown until the service learns it).
The user agent is cut to a bounded length; the IP is the peer's address.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import Request
from litestar.di import NamedDependency

from api.auth import principal_of
from api.middleware.request_context import ensure_request_id
from domain.auditing import AuditContext
from domain.errors import Unauthorized

MAX_USER_AGENT = 256

# How a handler asks for it: ``audit_context: AuditContextDep``.
AuditContextDep = NamedDependency[AuditContext]


def audit_context_of(request: Request[Any, Any, Any]) -> AuditContext:
    try:
        principal = principal_of(request)
        actor_id, actor_role = principal.user_id, principal.role.value
    except Unauthorized:
        actor_id = actor_role = None
    user_agent = request.headers.get("user-agent")
    return AuditContext(
        actor_id=actor_id,
        actor_role=actor_role,
        ip=request.client.host if request.client else None,
        user_agent=user_agent[:MAX_USER_AGENT] if user_agent else None,
        request_id=ensure_request_id(request.scope),
    )


def provide_audit_context(request: Request[Any, Any, Any]) -> AuditContext:
    return audit_context_of(request)
