"""Browser sessions: the refresh token only in an HttpOnly cookie scoped to the browser routes,
rotation through that cookie, sign-out clearing it, and cross-site calls refused (CSRF)."""

from __future__ import annotations

from http.cookies import SimpleCookie

import httpx
import pytest

from api.controllers.auth.browser import COOKIE_MODE_HEADER, COOKIE_PATH, REFRESH_COOKIE
from tests.support.accounts import AUTH, activate
from tests.support.api import api_client, assert_problem
from tests.support.people import PATIENT_ALICE

BROWSER = {COOKIE_MODE_HEADER: "1"}
SAME_ORIGIN = {**BROWSER, "Origin": "http://testserver.local"}


@pytest.fixture
async def api(settings):
    async with api_client(settings) as client:
        yield client


def refresh_cookie(response: httpx.Response) -> SimpleCookie:
    """The response's Set-Cookie for the refresh token, parsed with its attributes."""
    cookies = [
        value
        for value in response.headers.get_list("set-cookie")
        if value.startswith(f"{REFRESH_COOKIE}=")
    ]
    assert len(cookies) == 1, response.headers
    parsed = SimpleCookie()
    parsed.load(cookies[0])
    return parsed


def cookie_header(cookie: SimpleCookie) -> dict[str, str]:
    return {"Cookie": f"{REFRESH_COOKIE}={cookie[REFRESH_COOKIE].value}"}


async def browser_sign_in(api, database_url) -> httpx.Response:
    await activate(api, database_url, PATIENT_ALICE)
    response = await api.post(
        f"{AUTH}/login",
        json={"email": PATIENT_ALICE.email, "password": PATIENT_ALICE.password},
        headers=SAME_ORIGIN,
    )
    assert response.status_code == 200, response.text
    return response


async def test_a_browser_sign_in_puts_the_refresh_token_in_a_locked_down_cookie(
    api, database_url
) -> None:
    response = await browser_sign_in(api, database_url)
    body = response.json()
    assert "refreshToken" not in body
    assert body["accessToken"]
    morsel = refresh_cookie(response)[REFRESH_COOKIE]
    assert morsel.value
    assert morsel["httponly"] is True
    assert morsel["secure"] is True
    assert morsel["samesite"].lower() == "strict"
    assert morsel["path"] == COOKIE_PATH
    assert int(morsel["max-age"]) > 0


async def test_api_clients_keep_the_json_refresh_token(api, database_url) -> None:
    await activate(api, database_url, PATIENT_ALICE)
    response = await api.post(
        f"{AUTH}/login", json={"email": PATIENT_ALICE.email, "password": PATIENT_ALICE.password}
    )
    assert response.json()["refreshToken"]
    assert not response.headers.get_list("set-cookie")


async def test_the_cookie_refreshes_and_rotates_and_a_spent_one_is_refused(
    api, database_url
) -> None:
    first = refresh_cookie(await browser_sign_in(api, database_url))
    refreshed = await api.post(
        f"{AUTH}/browser/refresh", headers={**SAME_ORIGIN, **cookie_header(first)}
    )
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["accessToken"] and "refreshToken" not in refreshed.json()
    second = refresh_cookie(refreshed)
    assert second[REFRESH_COOKIE].value != first[REFRESH_COOKIE].value
    me = await api.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {refreshed.json()['accessToken']}"}
    )
    assert me.status_code == 200
    replayed = await api.post(
        f"{AUTH}/browser/refresh", headers={**SAME_ORIGIN, **cookie_header(first)}
    )
    assert_problem(replayed, 401)


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ({}, "no custom header: a form post or a plain cross-site request"),
        ({**BROWSER, "Origin": "https://evil.example"}, "another site's page"),
    ],
)
async def test_a_cross_site_refresh_is_refused_and_leaves_the_session_alone(
    api, database_url, headers, why
) -> None:
    cookie = refresh_cookie(await browser_sign_in(api, database_url))
    refused = await api.post(
        f"{AUTH}/browser/refresh", headers={**headers, **cookie_header(cookie)}
    )
    assert assert_problem(refused, 403)["code"] == "csrf_refused", why
    still = await api.post(
        f"{AUTH}/browser/refresh", headers={**SAME_ORIGIN, **cookie_header(cookie)}
    )
    assert still.status_code == 200, still.text


async def test_without_the_cookie_refresh_is_401(api) -> None:
    assert_problem(await api.post(f"{AUTH}/browser/refresh", headers=SAME_ORIGIN), 401)


async def test_browser_sign_out_ends_the_session_and_clears_the_cookie(api, database_url) -> None:
    signed_in = await browser_sign_in(api, database_url)
    cookie = refresh_cookie(signed_in)
    bearer = {"Authorization": f"Bearer {signed_in.json()['accessToken']}"}
    cross_site = await api.post(
        f"{AUTH}/browser/logout", headers={**bearer, **cookie_header(cookie)}
    )
    assert assert_problem(cross_site, 403)["code"] == "csrf_refused"
    out = await api.post(
        f"{AUTH}/browser/logout", headers={**SAME_ORIGIN, **bearer, **cookie_header(cookie)}
    )
    assert out.status_code == 204, out.text
    cleared = refresh_cookie(out)[REFRESH_COOKIE]
    assert cleared.value == "" and int(cleared["max-age"]) == 0
    after = await api.post(
        f"{AUTH}/browser/refresh", headers={**SAME_ORIGIN, **cookie_header(cookie)}
    )
    assert_problem(after, 401)
