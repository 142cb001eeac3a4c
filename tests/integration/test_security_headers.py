"""Hardening headers on every response; CORS only for the origins the operator lists."""

from __future__ import annotations

import msgspec
import pytest

from api.middleware.security_headers import API_CSP, DOCS_CSP, PORTAL_CSP
from tests.support.api import ADMIN, api_client

APP_ORIGIN = "https://app.example.org"
EVERYWHERE = {
    "strict-transport-security": "max-age=63072000; includeSubDomains",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


@pytest.fixture
async def api(settings):
    async with api_client(settings) as client:
        yield client


@pytest.fixture
async def cors_api(settings):
    with_origin = msgspec.structs.replace(settings, cors_origins=(APP_ORIGIN,))
    async with api_client(with_origin) as client:
        yield client


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        ("GET", "/health/live", {}, 200),
        ("GET", "/metrics", ADMIN, 200),
        ("GET", "/api/v1/jobs", ADMIN, 200),
        ("GET", "/api/v1/jobs", {}, 401),
        ("POST", "/api/v1/notifications/email", ADMIN, 400),
        ("GET", "/no/such/path", {}, 404),
        ("GET", "/api/v1/no/such/path", ADMIN, 404),
    ],
)
async def test_every_response_is_hardened(api, method, path, headers, status) -> None:
    response = await api.request(method, path, headers=headers)

    assert response.status_code == status
    for name, value in EVERYWHERE.items():
        assert response.headers[name] == value
    assert response.headers["content-security-policy"] == API_CSP
    assert "default-src 'none'" in API_CSP and "frame-ancestors 'none'" in API_CSP
    if path.startswith("/api/v1"):
        assert response.headers["cache-control"] == "no-store"


async def test_only_the_docs_pages_get_a_policy_that_lets_them_render(api) -> None:
    page = await api.get("/schema")
    spec = await api.get("/schema/openapi.json")

    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == DOCS_CSP
    assert "frame-ancestors 'none'" in DOCS_CSP
    assert page.headers["x-frame-options"] == "DENY"
    assert spec.status_code == 200


@pytest.mark.parametrize(
    ("path", "media_type"),
    [
        ("/", "text/html"),
        ("/verify-email?token=abc", "text/html"),
        ("/reset-password?token=abc", "text/html"),
        ("/portal/js/main.js", "text/javascript"),
        ("/portal/css/portal.css", "text/css"),
    ],
)
async def test_the_portal_allows_its_own_scripts_and_styles_only(api, path, media_type) -> None:
    response = await api.get(path)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media_type)
    assert response.headers["content-security-policy"] == PORTAL_CSP
    directives = dict(d.strip().split(" ", 1) for d in PORTAL_CSP.split(";"))
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["default-src"] == "'none'" and directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in PORTAL_CSP
    # images: its own files and blob: URLs of bytes it fetched with the token (a KHQR code)
    assert directives["img-src"] == "'self' blob:"
    for name, value in EVERYWHERE.items():
        assert response.headers[name] == value


async def test_the_portal_page_has_no_inline_script_or_style(api) -> None:
    page = (await api.get("/")).text

    assert '<script type="module" src="/portal/js/main.js"></script>' in page
    assert "<style" not in page and " style=" not in page
    assert page.count("<script") == 1


async def test_the_json_api_keeps_its_stricter_policy_beside_the_portal(api) -> None:
    response = await api.get("/api/v1/jobs", headers=ADMIN)

    assert response.headers["content-security-policy"] == API_CSP


async def test_no_cors_unless_origins_are_configured(api) -> None:
    response = await api.get("/api/v1/jobs", headers={**ADMIN, "Origin": APP_ORIGIN})
    preflight = await api.options(
        "/api/v1/jobs",
        headers={"Origin": APP_ORIGIN, "Access-Control-Request-Method": "GET"},
    )

    assert "access-control-allow-origin" not in response.headers
    assert "access-control-allow-origin" not in preflight.headers


async def test_a_listed_origin_may_call_and_read_the_rate_headers(cors_api) -> None:
    preflight = await cors_api.options(
        "/api/v1/jobs",
        headers={
            "Origin": APP_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, idempotency-key, content-type",
        },
    )
    response = await cors_api.get("/api/v1/jobs", headers={**ADMIN, "Origin": APP_ORIGIN})

    assert preflight.status_code in (200, 204)
    assert preflight.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "idempotency-key" in preflight.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in preflight.headers
    assert response.headers["access-control-allow-origin"] == APP_ORIGIN
    exposed = response.headers["access-control-expose-headers"].lower()
    assert {"ratelimit-remaining", "retry-after", "location"} <= set(
        name.strip() for name in exposed.split(",")
    )


async def test_an_unlisted_origin_gets_no_cors_headers(cors_api) -> None:
    other = "https://evil.example.com"
    preflight = await cors_api.options(
        "/api/v1/jobs", headers={"Origin": other, "Access-Control-Request-Method": "GET"}
    )
    response = await cors_api.get("/api/v1/jobs", headers={**ADMIN, "Origin": other})

    assert preflight.headers.get("access-control-allow-origin") != other
    assert "access-control-allow-origin" not in response.headers
