"""What the contract run found, pinned one by one: each rule is in the schema and the server
keeps it (tests/e2e/test_api_contract.py checks the whole document against the server)."""

from __future__ import annotations

import uuid

import pytest

from domain.accounts.model import PHONE_PATTERN
from domain.adapters.postgres import pooled
from domain.errors import UnstorableValue
from domain.paging import POSITION_CURSOR_PATTERN
from tests.support.api import ADMIN, api_client, assert_problem
from tests.support.users import add_cast


@pytest.fixture
async def api(settings):
    async with api_client(settings) as client:
        yield client


@pytest.fixture
async def cast(services):
    return await add_cast(services)


async def schema(api) -> dict:
    response = await api.get("/schema/openapi.json")
    assert response.status_code == 200
    return response.json()


async def test_options_and_405_name_every_method_of_the_path(api, cast) -> None:
    # GET and PATCH on /me are registered one after the other, which Litestar's own
    # OPTIONS answer missed (it said "GET, OPTIONS").
    answered = await api.options("/api/v1/me", headers=cast.alice.headers)
    assert answered.status_code == 204
    assert answered.headers["allow"] == "GET, OPTIONS, PATCH"
    record = await api.options(f"/api/v1/records/{uuid.uuid4()}")
    assert record.headers["allow"] == "DELETE, GET, OPTIONS"

    refused = await api.delete("/api/v1/me", headers=cast.alice.headers)
    assert_problem(refused, 405)
    assert set(refused.headers["allow"].split(", ")) == {"GET", "OPTIONS", "PATCH"}


async def test_the_phone_rule_is_published_and_kept(api, cast, settings) -> None:
    account_update = (await schema(api))["components"]["schemas"]["AccountUpdate"]
    assert account_update["properties"]["phone"]["pattern"] == PHONE_PATTERN
    assert account_update["additionalProperties"] is False

    me = cast.alice.headers
    problem = assert_problem(
        await api.patch("/api/v1/me", json={"phone": "12345"}, headers=me), 422
    )
    assert problem["errors"][0]["field"] == "phone"
    assert (await api.get("/api/v1/me", headers=me)).json()["phone"] == cast.alice.person.phone

    changed = await api.patch("/api/v1/me", json={"phone": "+855 (12) 000-111"}, headers=me)
    assert changed.status_code == 200, changed.text
    assert changed.json()["phone"] == "+85512000111"


async def test_a_body_of_the_wrong_json_type_is_a_400_and_changes_nothing(api, cast) -> None:
    # Litestar would take 0 for false; the schema says boolean.
    response = await api.post(
        "/api/v1/auth/logout", json={"everywhere": 0}, headers=cast.alice.headers
    )
    problem = assert_problem(response, 400)
    assert problem["errors"] == [{"field": "everywhere", "message": "Expected `bool`, got `int`"}]
    # JSON Schema counts 24.0 as the integer 24, so the server does too.
    invited = await api.post(
        "/api/v1/connections/invitations",
        json={"expiresInHours": 24.0},
        headers=cast.chantha.headers,
    )
    assert invited.status_code == 201, invited.text


async def test_a_date_time_filter_is_rfc_3339_with_an_offset(api) -> None:
    for bad in ("0.5", "2030-01-01T00:00:00"):  # a Unix time; no offset
        problem = assert_problem(
            await api.get("/api/v1/audit", params={"to": bad}, headers=ADMIN), 400
        )
        assert problem["errors"][0]["field"] == "to"
    good = await api.get("/api/v1/audit", params={"to": "2030-01-01T00:00:00Z"}, headers=ADMIN)
    assert good.status_code == 200, good.text


async def test_any_cursor_of_the_published_pattern_is_accepted(api, cast) -> None:
    document = await schema(api)
    parameters = document["paths"]["/api/v1/jobs"]["get"]["parameters"]
    cursor = next(p for p in parameters if p["name"] == "cursor")
    assert cursor["schema"]["pattern"] == POSITION_CURSOR_PATTERN

    page = await api.get(
        "/api/v1/jobs", params={"cursor": f"0.{'0' * 32}"}, headers=cast.alice.headers
    )
    assert page.status_code == 200, page.text
    assert page.json() == {"items": [], "nextCursor": None}


async def test_a_value_postgresql_cannot_hold_is_the_domains_unstorable_value(services) -> None:
    with pytest.raises(UnstorableValue) as raised:
        async with pooled(services.pool) as conn:
            await conn.execute("SELECT %s::text", ("a\x00b",))
    assert raised.value.code == "unstorable_value"
    assert "\x00" not in raised.value.message
