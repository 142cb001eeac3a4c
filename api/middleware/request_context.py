"""A request id on every response and log line, and one access log line per request.

A caller's ``X-Request-ID`` is kept only if it looks like an id (so a header
cannot smuggle text into our logs); otherwise we mint one. The access log
names the route *template*, never the raw path or query string, so no
identifier or search term a client put in a URL ends up in a log.
"""

from __future__ import annotations

import functools
import re
import time
import uuid

import structlog
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from api.middleware import add_headers

REQUEST_ID_HEADER = "x-request-id"
_REQUEST_ID_NAME = REQUEST_ID_HEADER.encode("latin-1")
_SANE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_STATE_KEY = "request_id"
_TYPED_PARAM = re.compile(r"\{(\w+):[^}]*\}")

log = structlog.get_logger("api.access")


def route_template(scope: Scope) -> str | None:
    """The matched route as written in the code (``/jobs/{job_id}``), or None if none matched."""
    template = scope.get("path_template")
    return _untyped(template) if template else None


@functools.lru_cache(maxsize=1024)  # one entry per route of the app
def _untyped(template: str) -> str:
    return _TYPED_PARAM.sub(r"{\1}", template)


def ensure_request_id(scope: Scope) -> str:
    """This request's id: stored in the scope on first use, from the caller's header if sane."""
    state = scope.setdefault("state", {})
    found = state.get(_STATE_KEY)
    if found:
        return found
    offered = next(
        (value for name, value in scope.get("headers", ()) if name == _REQUEST_ID_NAME),
        b"",
    ).decode("latin-1")
    request_id = offered if _SANE_ID.fullmatch(offered) else uuid.uuid4().hex
    state[_STATE_KEY] = request_id
    return request_id


async def echo_request_id(message: Message, scope: Scope) -> None:
    """A ``before_send`` hook: it sees every response, even a 404 for a path no route matches."""
    if message["type"] == "http.response.start":
        ours = [(_REQUEST_ID_NAME, ensure_request_id(scope).encode("latin-1"))]
        add_headers(message, ours, replace=True)


class RequestContextMiddleware(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        request_id = ensure_request_id(scope)
        status = 500
        started = time.perf_counter()

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await next_app(scope, receive, capture)
            finally:
                log.info(
                    "http_request",
                    method=scope.get("method"),
                    route=route_template(scope),
                    status=status,
                    duration_ms=round((time.perf_counter() - started) * 1000, 1),
                )
