"""Browser sessions: the refresh token in an HttpOnly cookie, never where script can read it.

A browser asks for this mode with ``X-Refresh-Cookie: 1`` on a sign-in (password, MFA step,
e-mailed code). The answer then leaves ``refreshToken`` out of its JSON and sets it as the
``hp_refresh`` cookie (``HttpOnly; Secure; SameSite=Strict``) whose ``Path`` is
``/api/v1/auth/browser``: it travels only to the two routes here, never to any other call.
The access token stays in the page's memory. API clients that do not send the header keep
the JSON refresh token exactly as before.

Both routes here act on the cookie, so both refuse a cross-site request (403
``csrf_refused``): the ``X-Refresh-Cookie: 1`` header must be present (a form or a plain
cross-site request cannot set it, and no CORS configuration of ours allows it), and an
``Origin`` header, when the browser sends one, must name this very host.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import msgspec
from litestar import Request, Response, post
from litestar.datastructures import Cookie, State

from api.audit_context import AuditContextDep
from api.controllers.auth.common import NO_TOKEN, AuthResource, SignInRead, route_opt, sign_in_read
from api.policy_guard import AccessDep
from api.problems import api_responses
from api.state import UseCases
from domain.accounts import sessions
from domain.errors import Forbidden, Unauthorized
from domain.settings import Settings

COOKIE_MODE_HEADER = "X-Refresh-Cookie"
REFRESH_COOKIE = "hp_refresh"
COOKIE_PATH = "/api/v1/auth/browser"


class CsrfRefused(Forbidden):
    """A cookie-authenticated call without the proof that our own page made it."""

    code = "csrf_refused"


def wants_cookie(request: Request[Any, Any, Any]) -> bool:
    return request.headers.get(COOKIE_MODE_HEADER) == "1"


def _refresh_cookie(value: str, max_age: int) -> Cookie:
    return Cookie(
        key=REFRESH_COOKIE,
        value=value,
        path=COOKIE_PATH,
        max_age=max_age,
        secure=True,
        httponly=True,
        samesite="strict",
    )


def cleared_cookie() -> Cookie:
    """What sign-out answers: the same cookie, empty and already expired."""
    return _refresh_cookie("", 0)


def signed_in(
    request: Request[Any, Any, Any], settings: Settings, result: sessions.SignIn
) -> Response[SignInRead]:
    """The sign-in answer; in cookie mode its refresh token moves from the JSON to the cookie."""
    read = sign_in_read(settings, result)
    if not wants_cookie(request) or read.refresh_token is None:
        return Response(read)
    expires_at = read.refresh_expires_at or datetime.now(UTC)
    cookie = _refresh_cookie(
        read.refresh_token, max(0, int((expires_at - datetime.now(UTC)).total_seconds()))
    )
    read = msgspec.structs.replace(read, refresh_token=None)
    return Response(read, cookies=[cookie])


def check_same_site(request: Request[Any, Any, Any]) -> None:
    """Refuse a cookie-authenticated call that our own page cannot be shown to have made."""
    if not wants_cookie(request):
        raise CsrfRefused(f"a cookie-authenticated call needs the {COOKIE_MODE_HEADER}: 1 header")
    origin = request.headers.get("Origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("Host", ""):
        raise CsrfRefused("a cookie-authenticated call must come from this site's own pages")


class BrowserSessionController(AuthResource):
    path = "/auth/browser"

    @post(
        "/refresh",
        operation_id="refreshBrowserSession",
        summary="Trade the refresh cookie for a new access token (and a rotated cookie)",
        description=(
            f"Needs the {REFRESH_COOKIE} cookie set by a sign-in with {COOKIE_MODE_HEADER}: 1, "
            f"and that header again (403 csrf_refused without it, or from another origin). "
            "A cookie presented a second time revokes its whole session: 401."
        ),
        status_code=200,
        responses=api_responses(401, 403, token=False),
        opt=route_opt("public.refresh", auth_rate=True),
        security=NO_TOKEN,
    )
    async def refresh(
        self,
        request: Request[Any, Any, Any],
        audit_context: AuditContextDep,
        cases: UseCases,
        state: State,
    ) -> Response[SignInRead]:
        token = request.cookies.get(REFRESH_COOKIE)
        if not token:
            raise Unauthorized("no browser session: sign in again", code="no_session")
        check_same_site(request)
        result = await cases.run(sessions.refresh_session, audit_context, token)
        return signed_in(request, state.settings, result)

    @post(
        "/logout",
        operation_id="logOutBrowserSession",
        summary="End the session of the refresh cookie and clear the cookie",
        description=f"Needs the {COOKIE_MODE_HEADER}: 1 header (403 csrf_refused otherwise).",
        status_code=204,
        responses=api_responses(403),
        opt=route_opt("auth.logout"),
        response_cookies=[cleared_cookie()],
    )
    async def log_out(
        self,
        request: Request[Any, Any, Any],
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> None:
        check_same_site(request)
        token = request.cookies.get(REFRESH_COOKIE)
        if token:
            await cases.run(sessions.end_session, access, audit_context, token, False)
