"""The one authorization layer, as the API applies it: a guard and the ``access`` dependency.

Every route under /api/v1 names its policy in ``opt={"policy": "<resource>.<action>"}``.
``policy_guard`` (installed once, on the /api/v1 router) reads it before the
handler runs: a public policy lets anyone through; any other needs a valid
token (401) and a role the policy allows (403). The relation rule needs the
loaded target, so the handler passes ``access`` - the caller under this
route's own policy - to its service, which applies it (404 when refused).
A token limited to a scope opens only the routes that list that scope
(``api.auth.principal_for_route``).

A route without a policy, or with a name the table does not hold, is a
programming error: it fails closed (500, logged), and a test walks every
route so it never ships. The one exception is the OPTIONS answer Litestar
adds to every path by itself: its Allow header names methods, nothing more.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection, Request
from litestar.di import NamedDependency
from litestar.enums import HttpMethod
from litestar.handlers.base import BaseRouteHandler

from api.auth import principal_for_route, principal_of
from domain.policies import Access, Policy, check_role, policy_named

POLICY_OPT = "policy"

# How a handler asks for it: ``access: AccessDep``.
AccessDep = NamedDependency[Access]


def is_automatic_options(handler: BaseRouteHandler) -> bool:
    """Litestar's own OPTIONS handler for a path (no policy of ours can be attached to it)."""
    methods = getattr(handler, "http_methods", None)
    return methods == {HttpMethod.OPTIONS} and POLICY_OPT not in handler.opt


def route_policy(handler: BaseRouteHandler) -> Policy:
    """The policy a route declares; raises UnknownPolicy when it declares none we know."""
    return policy_named(handler.opt.get(POLICY_OPT))


async def policy_guard(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    if is_automatic_options(handler):
        return
    rule = route_policy(handler)
    if rule.public:
        return
    check_role(principal_for_route(connection, handler), rule)


def provide_access(request: Request[Any, Any, Any]) -> Access:
    return Access(principal=principal_of(request), policy=route_policy(request.route_handler))
