"""Bearer-token authentication and role checks, through the real app."""

from __future__ import annotations

import time

import jwt
import msgspec
import pytest

from api.tokens import mint_token, read_token
from domain.identity import Role
from tests.conftest import TEST_JWT_SECRET
from tests.support.api import api_client, assert_problem, bearer

EMAIL = {"to": "someone@example.com", "template": "welcome", "data": {"name": "Ada"}}


@pytest.fixture
async def api(settings):
    async with api_client(settings) as client:
        yield client


def raw_token(claims: dict, secret: str = TEST_JWT_SECRET) -> dict[str, str]:
    return {"Authorization": f"Bearer {jwt.encode(claims, secret, algorithm='HS256')}"}


def in_an_hour() -> int:
    return int(time.time()) + 3600


BAD_CREDENTIALS = {
    "no header": {},
    "not bearer": {"Authorization": "Basic dXNlcjpwYXNz"},
    "empty bearer": {"Authorization": "Bearer "},
    "not a jwt": {"Authorization": "Bearer not.a.jwt"},
    "garbage": {"Authorization": "Bearer %%%.{}.!!"},
    "three words": {"Authorization": "Bearer abc def"},
    "bad signature": bearer("admin-1", Role.ADMIN, secret="another-secret-" + "y" * 40),
    "expired": bearer("admin-1", Role.ADMIN, ttl=-60),
    "unknown role": raw_token({"sub": "u1", "role": "superuser", "exp": in_an_hour()}),
    "no role": raw_token({"sub": "u1", "exp": in_an_hour()}),
    "no sub": raw_token({"role": "admin", "exp": in_an_hour()}),
    "empty sub": raw_token({"sub": "", "role": "admin", "exp": in_an_hour()}),
    "no exp": raw_token({"sub": "u1", "role": "admin"}),
    "alg none": {
        "Authorization": "Bearer "
        + jwt.encode({"sub": "u1", "role": "admin", "exp": in_an_hour()}, None, algorithm="none")
    },
}


@pytest.mark.parametrize("headers", BAD_CREDENTIALS.values(), ids=BAD_CREDENTIALS.keys())
async def test_bad_credentials_get_401_problem_with_www_authenticate(api, headers) -> None:
    for method, url, body in (
        ("GET", "/api/v1/jobs", None),
        ("POST", "/api/v1/notifications/email", EMAIL),
    ):
        response = await api.request(method, url, headers=headers, json=body)
        problem = assert_problem(response, 401)
        assert response.headers["www-authenticate"].startswith("Bearer")
        token = headers.get("Authorization", "").partition(" ")[2]
        assert not token or token not in problem["detail"]


async def test_a_token_with_a_bad_signature_is_named_invalid(api) -> None:
    response = await api.get("/api/v1/jobs", headers=BAD_CREDENTIALS["bad signature"])
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    missing = await api.get("/api/v1/jobs")
    assert missing.headers["www-authenticate"] == "Bearer"


async def test_a_patient_may_not_send_email(api) -> None:
    response = await api.post("/api/v1/notifications/email", json=EMAIL, headers=bearer())
    problem = assert_problem(response, 403)
    assert problem["code"] == "forbidden"


async def test_a_doctor_may_not_send_email_either(api) -> None:
    headers = bearer("doc-1", Role.DOCTOR)
    response = await api.post("/api/v1/notifications/email", json=EMAIL, headers=headers)
    assert_problem(response, 403)


@pytest.mark.parametrize("role", list(Role))
async def test_every_role_may_list_its_jobs(api, role) -> None:
    response = await api.get("/api/v1/jobs", headers=bearer("someone", role))
    assert response.status_code == 200, response.text


async def test_the_scheme_name_is_case_insensitive(api) -> None:
    token = mint_token(TEST_JWT_SECRET, "patient-1", Role.PATIENT, 60)
    response = await api.get("/api/v1/jobs", headers={"Authorization": f"bearer {token}"})
    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/health/live", "/health/ready", "/schema/openapi.json"])
async def test_health_and_schema_need_no_token(api, path) -> None:
    response = await api.get(path)
    assert response.status_code == 200, response.text


# --- /metrics: the scraper's METRICS_TOKEN, or an administrator --------------------------

METRICS_TOKEN = "scrape-" + "m" * 40


@pytest.fixture
async def scraped_api(settings):
    with_token = msgspec.structs.replace(settings, metrics_token=METRICS_TOKEN)
    async with api_client(with_token) as client:
        yield client


async def test_the_scraper_reads_metrics_with_its_token(scraped_api) -> None:
    response = await scraped_api.get(
        "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    )
    assert response.status_code == 200
    assert "healthplat_jobs" in response.text


@pytest.mark.parametrize("role", [Role.PATIENT, Role.DOCTOR])
async def test_metrics_refuse_other_roles(scraped_api, role) -> None:
    response = await scraped_api.get("/metrics", headers=bearer("user-1", role))
    assert_problem(response, 403)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": f"Bearer {METRICS_TOKEN}x"},
        {"Authorization": f"Bearer {METRICS_TOKEN[:-1]}"},
        {"Authorization": f"Basic {METRICS_TOKEN}"},
    ],
    ids=["no token", "longer token", "shorter token", "not bearer"],
)
async def test_metrics_refuse_a_missing_or_wrong_token(scraped_api, headers) -> None:
    response = await scraped_api.get("/metrics", headers=headers)
    assert_problem(response, 401)
    assert "healthplat_jobs" not in response.text


async def test_without_a_metrics_token_only_admins_read_metrics(api) -> None:
    assert_problem(await api.get("/metrics"), 401)
    assert_problem(await api.get("/metrics", headers={"Authorization": "Bearer "}), 401)
    assert (await api.get("/metrics", headers=bearer("admin-1", Role.ADMIN))).status_code == 200


async def test_the_openapi_document_names_the_operations_and_the_bearer_scheme(api) -> None:
    schema = (await api.get("/schema/openapi.json")).json()
    assert schema["info"]["title"] == "Healthplat API"
    assert schema["info"]["version"]
    operation_ids = {
        operation["operationId"] for path in schema["paths"].values() for operation in path.values()
    }
    assert {"getJob", "listJobs", "cancelJob", "retryJob", "streamJobEvents", "sendEmail"} <= (
        operation_ids
    )
    assert schema["components"]["securitySchemes"]["BearerToken"]["scheme"] == "bearer"
    assert "security" in schema["paths"]["/api/v1/jobs"]["get"]
    assert "security" not in schema["paths"]["/health/live"]["get"]


def test_minted_tokens_read_back() -> None:
    token = mint_token(TEST_JWT_SECRET, "user-7", "doctor", 60)
    principal = read_token(TEST_JWT_SECRET, token)
    assert (principal.user_id, principal.role) == ("user-7", Role.DOCTOR)


def test_a_scoped_token_reads_back_with_its_scope() -> None:
    token = mint_token(TEST_JWT_SECRET, "user-8", "admin", 60, scope="mfa_enrolment")
    principal = read_token(TEST_JWT_SECRET, token)
    assert principal.scope == "mfa_enrolment"
    assert read_token(TEST_JWT_SECRET, mint_token(TEST_JWT_SECRET, "u", "admin", 60)).scope is None


async def test_a_token_with_an_unknown_scope_is_invalid(api) -> None:
    headers = raw_token({"sub": "u1", "role": "admin", "exp": in_an_hour(), "scope": "root"})
    problem = assert_problem(await api.get("/api/v1/jobs", headers=headers), 401)
    assert problem["code"] == "invalid_token"
