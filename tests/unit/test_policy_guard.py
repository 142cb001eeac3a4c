"""The policy guard on a bare app: public routes, role refusals, and failing closed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from litestar import Litestar, Router, get
from litestar.datastructures import State
from litestar.di import Provide
from litestar.testing import TestClient

from api.policy_guard import AccessDep, policy_guard, provide_access
from api.problems import EXCEPTION_HANDLERS
from domain.identity import Role
from tests.conftest import TEST_JWT_SECRET
from tests.support.api import bearer


@get("/doctors", opt={"policy": "doctor.list"}, sync_to_thread=False)
def directory(access: AccessDep) -> dict[str, str]:
    return {"policy": access.policy.name, "caller": access.principal.user_id}


@get("/signup-info", opt={"policy": "public.signup"}, sync_to_thread=False)
def public_page() -> dict[str, bool]:
    return {"ok": True}


@get("/send", opt={"policy": "notification.send_email"}, sync_to_thread=False)
def admins_only() -> dict[str, bool]:
    return {"ok": True}


@get("/forgotten", sync_to_thread=False)
def no_policy() -> dict[str, bool]:
    return {"leaked": True}


@get("/misspelt", opt={"policy": "doctors.list"}, sync_to_thread=False)
def unknown_policy() -> dict[str, bool]:
    return {"leaked": True}


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient[Litestar]]:
    app = Litestar(
        route_handlers=[
            Router(
                path="/api/v1",
                route_handlers=[directory, public_page, admins_only, no_policy, unknown_policy],
                guards=[policy_guard],
                dependencies={"access": Provide(provide_access, sync_to_thread=False)},
            )
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        state=State({"settings": SimpleNamespace(jwt_secret=TEST_JWT_SECRET, data_dir=Path())}),
        logging_config=None,
    )
    with TestClient(app) as test_client:
        yield test_client


def test_a_policy_route_gets_the_caller_under_its_own_policy(client) -> None:
    response = client.get("/api/v1/doctors", headers=bearer("u-1", Role.PATIENT))
    assert response.json() == {"policy": "doctor.list", "caller": "u-1"}


def test_a_public_route_needs_no_token(client) -> None:
    assert client.get("/api/v1/signup-info").json() == {"ok": True}


def test_any_other_route_needs_a_token(client) -> None:
    assert client.get("/api/v1/doctors").status_code == 401


def test_a_role_the_policy_does_not_name_is_a_403(client) -> None:
    response = client.get("/api/v1/send", headers=bearer("u-1", Role.DOCTOR))
    assert response.status_code == 403
    assert response.json()["detail"] == "this action is limited to: admin"
    assert client.get("/api/v1/send", headers=bearer("u-2", Role.ADMIN)).status_code == 200


@pytest.mark.parametrize("path", ["/api/v1/forgotten", "/api/v1/misspelt"])
def test_a_route_without_a_known_policy_fails_closed(client, path) -> None:
    for headers in ({}, bearer("u-1", Role.ADMIN)):
        response = client.get(path, headers=headers)
        assert response.status_code == 500
        assert "leaked" not in response.text


def test_litestars_own_options_answer_passes(client) -> None:
    response = client.options("/api/v1/doctors")
    assert response.status_code == 204
    assert "GET" in response.headers["allow"]
