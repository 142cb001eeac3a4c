"""Authentication and role checks, as Litestar guards plus one dependency.

Guards run before a handler's dependencies and body are read, so a caller
who is not allowed in costs no body parsing, and a handler cannot forget the
check: the API router installs ``authenticated`` for every route under it,
and a route narrows the roles with ``allow_roles``. Handlers receive the
caller as the ``principal`` dependency. All three read the token through
``principal_of``, which verifies it once per request.
"""

from __future__ import annotations

import hmac
from typing import Any

from litestar.connection import ASGIConnection, Request
from litestar.di import NamedDependency
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Guard

from api.tokens import read_token
from domain.errors import Forbidden, Unauthorized
from domain.identity import Principal, Role

_STATE_KEY = "principal"
# The OpenAPI security scheme the tokens are declared under.
BEARER_SCHEME = "BearerToken"
# A route that a scoped token may call lists the scope here: ``opt={"token_scopes": (...)}``.
TOKEN_SCOPES_OPT = "token_scopes"

# How a handler asks for the caller: ``principal: Caller``.
Caller = NamedDependency[Principal]


class MissingToken(Unauthorized):
    """Raised when a request carries no bearer token at all."""

    code = "missing_token"


def bearer_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    header = connection.headers.get("authorization")
    if header is None:
        raise MissingToken("this endpoint needs an Authorization: Bearer token")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise MissingToken("the Authorization header must be 'Bearer <token>'")
    return token.strip()


def principal_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    """The verified caller of this request; raises Unauthorized when there is none."""
    state = connection.state
    cached = state.get(_STATE_KEY)
    if isinstance(cached, Principal):
        return cached
    settings = connection.app.state.settings
    principal = read_token(settings.jwt_secret, bearer_token(connection))
    state[_STATE_KEY] = principal
    return principal


class InsufficientScope(Forbidden):
    """Raised when a limited token (an admin's TOTP enrolment) calls a route outside its scope."""

    code = "insufficient_scope"


def principal_for_route(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> Principal:
    """The caller, if their token may open ``handler``: a scoped token opens only the routes
    that list its scope. Guards use this; ``principal_of`` only says who is calling."""
    principal = principal_of(connection)
    if principal.scope is not None and principal.scope not in handler.opt.get(TOKEN_SCOPES_OPT, ()):
        raise InsufficientScope(
            "this token only allows setting up two-factor sign-in; then sign in again"
        )
    return principal


def authenticated(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    principal_for_route(connection, handler)


def allow_roles(*roles: Role) -> Guard:
    allowed = frozenset(roles)
    names = ", ".join(sorted(role.value for role in allowed))

    def guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
        if principal_for_route(connection, handler).role not in allowed:
            raise Forbidden(f"this action is limited to: {names}")

    return guard


admin_only = allow_roles(Role.ADMIN)


def metrics_scraper(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """/metrics: a scraper holding METRICS_TOKEN, or an administrator's own token.

    The metrics are operational (no PHI), but each scrape runs aggregate
    queries over the job table, so strangers may not trigger it at will.
    """
    expected = connection.app.state.settings.metrics_token
    presented = bearer_token(connection)
    if expected is not None and hmac.compare_digest(presented.encode(), expected.encode()):
        return
    admin_only(connection, handler)


def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    return principal_of(request)
