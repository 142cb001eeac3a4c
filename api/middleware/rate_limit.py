"""Rate limits on /api/v1, counted in Redis so they hold however many API processes serve.

Which budgets a request spends (``domain.rate_limits``):

- a route tagged ``opt["rate_limit"] == "auth"`` (login, codes, reset, MFA,
  refresh): per client address, at ``rate_limit_auth_per_minute``;
- a request with a valid token: per user, at ``rate_limit_user_per_minute``;
- a request with no valid token that is not a credential route: per address
  at the user rate, since each refused one may cost an audit write.

Every answer carries ``RateLimit-Limit/-Remaining/-Reset`` for the budget
with the least room; a refusal is a 429 problem with ``Retry-After``.
The sign-in services spend per-account budgets of their own
(domain/accounts/sign_in_budget.py); the auth routes answer those refusals with the
same 429 (``too_many_requests``), whose RateLimit headers are then the
account budget's and are left as they are.

The client address is the ASGI peer. Behind a proxy, run uvicorn with
``--proxy-headers --forwarded-allow-ips=<the proxy>`` so the peer is the
real client; ``X-Forwarded-For`` is never read here, as anyone can forge it.

When Redis does not answer, a credential route answers 503: the limit is
all that stands between a password and unlimited guessing (and argon2
checks are the costliest requests we serve), so it must not lapse with
Redis. Everything else goes through, logged at most every
``OUTAGE_LOG_SECONDS``: the per-user budget is fairness, not a security
boundary, the caller is authenticated and audited, and a cache outage must
not become a full outage.
"""

from __future__ import annotations

import time
from typing import Any

import structlog
from litestar.connection import ASGIConnection, Request
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import principal_of
from api.middleware import add_headers, raw_headers, under_api
from api.problems import problem_response
from domain.errors import Unauthorized
from domain.logging import exception_fields
from domain.rate_limits import (
    RateDecision,
    RateLimit,
    anonymous_limit,
    auth_limit,
    binding,
    rate_limit_headers,
    user_limit,
)
from domain.settings import Settings

log = structlog.get_logger(__name__)

AUTH_TAG = "auth"
OUTAGE_LOG_SECONDS = 30.0
OUTAGE_RETRY_AFTER_SECONDS = 5
# Read by the failure audit: only the refusal that crosses a limit is worth a record.
FIRST_REFUSAL_STATE_KEY = "rate_limit_first_refusal"


def is_credential_route(scope: Scope) -> bool:
    handler = scope.get("route_handler")
    opt = getattr(handler, "opt", None) or {}
    return opt.get("rate_limit") == AUTH_TAG


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return client[0] if client else "unknown"


def rates_for(scope: Scope, settings: Settings) -> list[RateLimit]:
    address = client_address(scope)
    rates: list[RateLimit] = []
    credential_route = is_credential_route(scope)
    if credential_route:
        rates.append(auth_limit(address, settings.rate_limit_auth_per_minute))
    try:
        principal = principal_of(ASGIConnection(scope))
    except Unauthorized:
        if not credential_route:
            rates.append(anonymous_limit(address, settings.rate_limit_user_per_minute))
    else:
        rates.append(user_limit(principal.user_id, settings.rate_limit_user_per_minute))
    return rates


class _OutageLog:
    """One warning per interval while the store is down, not one per request."""

    def __init__(self) -> None:
        self._last = float("-inf")

    def warn(self, exc: BaseException, *, failed_closed: bool) -> None:
        now = time.monotonic()
        if now - self._last >= OUTAGE_LOG_SECONDS:
            self._last = now
            log.warning(
                "rate_limiter_unavailable", failed_closed=failed_closed, **exception_fields(exc)
            )


class RateLimitMiddleware(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)

    def __init__(self) -> None:
        self._outage = _OutageLog()

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        if not under_api(scope["path"]):
            await next_app(scope, receive, send)
            return
        app = scope["litestar_app"]
        rates = rates_for(scope, app.state.settings)
        try:
            counts = await app.state.services.rate_limiter.hit(rates)
        except Exception as exc:  # any failure of the shared store: see the module docstring
            closed = is_credential_route(scope)
            self._outage.warn(exc, failed_closed=closed)
            if closed:
                await _answer(scope, receive, send, limiter_unavailable())
                return
            await next_app(scope, receive, send)
            return
        decision = binding(
            [RateDecision.of(rate, count) for rate, count in zip(rates, counts, strict=True)]
        )
        if not decision.allowed:
            await _answer(scope, receive, send, too_many_requests(scope, decision))
            return
        budget = raw_headers(rate_limit_headers(decision))

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                # a service's own refusal keeps its budget's headers
                add_headers(message, budget, replace=False)
            await send(message)

        await next_app(scope, receive, with_headers)


def too_many_requests(scope: Scope, decision: RateDecision) -> Any:
    """The 429 for a spent budget. Of a burst of them only the one that crossed the limit is
    worth an audit record: the failure audit reads the flag set here."""
    scope.setdefault("state", {})[FIRST_REFUSAL_STATE_KEY] = decision.first_refusal
    return problem_response(
        429,
        "too many requests; retry after the number of seconds in Retry-After",
        code="rate_limited",
        headers=rate_limit_headers(decision),
    )


def limiter_unavailable() -> Any:
    """The 503 of a credential route while the shared store does not answer."""
    return problem_response(
        503,
        "this endpoint is briefly unavailable; retry shortly",
        code="rate_limiter_unavailable",
        headers={"Retry-After": str(OUTAGE_RETRY_AFTER_SECONDS)},
    )


async def _answer(scope: Scope, receive: Receive, send: Send, response: Any) -> None:
    request: Request[Any, Any, Any] = Request(scope, receive)
    await response.to_asgi_response(app=None, request=request)(scope, receive, send)
