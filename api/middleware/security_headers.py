"""Browser-facing hardening on every response, and CORS only for origins the operator lists.

The API serves JSON, so its Content-Security-Policy allows nothing at all; the
portal's page and files (api/portal/) get one that allows scripts, styles and
connections from this origin only (no inline script or style), and only the
OpenAPI documentation pages (HTML that loads its viewer from a CDN) a policy
loose enough to render. API responses may
carry PHI, so no cache (browser or proxy) may keep them. Set in a
``before_send`` hook, so even a 404 for a path no route matches, or a 429
from the rate limiter, carries them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from litestar.config.cors import CORSConfig
from litestar.types import Message, Scope

from api.middleware import RawHeader, add_headers, raw_headers, under_api
from api.portal.routes import is_portal_path
from domain.settings import Settings

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# The portal: its own files only; blob: images for pictures it fetched with the bearer token
# (a payment's KHQR code). No data: URLs; charts are inline SVG elements, not images.
# 'self' in connect-src covers the same host's ws:/wss: (the live notices).
PORTAL_CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' blob:",
        "connect-src 'self'",
        "font-src 'self'",
        "manifest-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    )
)
# Litestar's viewers (Redoc by default; Swagger, Scalar, RapiDoc, Elements) load
# scripts, styles and fonts from these CDNs and inline their start-up script.
_DOCS_SOURCES = "https://cdn.jsdelivr.net https://unpkg.com https://cdn.redoc.ly"
DOCS_CSP = "; ".join(
    (
        "default-src 'none'",
        f"script-src 'self' 'unsafe-inline' {_DOCS_SOURCES}",
        f"style-src 'self' 'unsafe-inline' {_DOCS_SOURCES} https://fonts.googleapis.com",
        "font-src https://fonts.gstatic.com data:",
        "img-src 'self' data: https://cdn.jsdelivr.net https://cdn.redoc.ly",
        "connect-src 'self'",
        "worker-src blob:",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'none'",
    )
)
STATIC_HEADERS = {
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}

# What a browser client may send and read across origins.
CORS_ALLOW_HEADERS = ["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID"]
CORS_EXPOSE_HEADERS = [
    "Location",
    "Idempotent-Replayed",
    "X-Request-ID",
    "Retry-After",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
]


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def _policy_for(path: str, docs_path: str) -> str:
    if is_portal_path(path):
        return PORTAL_CSP
    return DOCS_CSP if _under(path, docs_path) else API_CSP


def _our_headers(policy: str, no_store: bool) -> list[RawHeader]:
    no_cache = {"Cache-Control": "no-store"} if no_store else {}
    return raw_headers({**STATIC_HEADERS, "Content-Security-Policy": policy, **no_cache})


_OURS = {  # built once: this runs on every response
    (policy, no_store): _our_headers(policy, no_store)
    for policy in (API_CSP, PORTAL_CSP, DOCS_CSP)
    for no_store in (False, True)
}


def security_headers(docs_path: str) -> Callable[[Message, Scope], Awaitable[None]]:
    """The ``before_send`` hook; ``docs_path`` is where the OpenAPI pages are served. Ours
    replace any of the same name the response set."""

    async def add_security_headers(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        path = scope.get("path", "")
        add_headers(message, _OURS[(_policy_for(path, docs_path), under_api(path))], replace=True)

    return add_security_headers


def cors_config(settings: Settings) -> CORSConfig | None:
    """None (no CORS headers at all, browsers keep the same-origin rule) unless origins are set.

    Bearer tokens travel in a header, never a cookie, so credentials stay off.
    """
    if not settings.cors_origins:
        return None
    return CORSConfig(
        allow_origins=list(settings.cors_origins),
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        allow_headers=CORS_ALLOW_HEADERS,
        expose_headers=CORS_EXPOSE_HEADERS,
        allow_credentials=False,
        max_age=600,
    )
