"""POST /api/v1/notifications/email: 202 + job, idempotency, and every kind of bad input as 4xx."""

from __future__ import annotations

import hashlib

import msgspec
import pytest

from domain.adapters.jobs.store import request_fingerprint
from domain.jobs.submit import canonical_request
from domain.notifications.email import SendEmail
from domain.notifications.jobs import EMAIL_SEND
from tests.support.api import ADMIN, api_client, assert_problem, job_rows
from tests.support.emails import email_rows_as_text, stored_emails

URL = "/api/v1/notifications/email"
EMAIL = {"to": "patient@example.com", "template": "welcome", "data": {"name": "Ada"}}


@pytest.fixture
async def api(settings):
    async with api_client(settings) as client:
        yield client


def email_rows(database_url: str) -> list[tuple]:
    return [
        (email.row["job_id"], email.to_address, email.row["template"])
        for email in stored_emails(database_url)
    ]


async def test_an_email_is_accepted_as_a_job(api, settings) -> None:
    response = await api.post(URL, json=EMAIL, headers=ADMIN)

    assert response.status_code == 202, response.text
    body = response.json()
    assert set(body) == {"jobId", "status"} and body["status"] == "queued"
    assert response.headers["location"] == f"/api/v1/jobs/{body['jobId']}"
    [row] = job_rows(settings.database_url)
    assert str(row["id"]) == body["jobId"]
    assert row["kind"] == EMAIL_SEND.name and row["owner_id"] == "admin-1"
    assert "patient@example.com" not in str(row["payload"])  # PHI stays in email_messages
    [(job_id, to_address, template)] = email_rows(settings.database_url)
    assert str(job_id) == body["jobId"] and (to_address, template) == (EMAIL["to"], "welcome")

    job = await api.get(response.headers["location"], headers=ADMIN)
    assert job.status_code == 200 and job.json()["kind"] == EMAIL_SEND.name


HEALTH_ALERT = {
    "to": "sokha.chan@example.org",
    "template": "health_alert",
    "data": {
        "name": "Sokha Chan",
        "alertTitle": "Potassium critically high",
        "alertMessage": "Your lab result needs a doctor today",
    },
}


async def test_the_address_and_data_are_sealed_at_rest(api, settings) -> None:
    response = await api.post(URL, json=HEALTH_ALERT, headers=ADMIN)

    assert response.status_code == 202, response.text
    stored = email_rows_as_text(settings.database_url).lower()
    assert stored  # the row is there ...
    for plaintext in [HEALTH_ALERT["to"], "sokha", *HEALTH_ALERT["data"].values()]:
        assert plaintext.lower() not in stored  # ... and holds none of the PHI
    [email] = stored_emails(settings.database_url)  # which opens, bound to its row
    assert email.to_address == HEALTH_ALERT["to"] and email.data == HEALTH_ALERT["data"]
    assert {email.row["to_address_key_id"], email.row["data_key_id"]} == {"test-k2"}


async def test_a_replayed_key_returns_the_same_job_and_creates_nothing(api, settings) -> None:
    headers = {**ADMIN, "Idempotency-Key": "order-42/email#1"}
    first = await api.post(URL, json=EMAIL, headers=headers)
    second = await api.post(URL, json=EMAIL, headers=headers)

    assert first.status_code == second.status_code == 202
    assert first.json()["jobId"] == second.json()["jobId"]
    assert second.headers["location"] == first.headers["location"]
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert len(job_rows(settings.database_url)) == 1
    assert len(email_rows(settings.database_url)) == 1


async def test_the_same_body_in_another_key_order_is_still_a_replay(api, settings) -> None:
    headers = {**ADMIN, "Idempotency-Key": "k-1"}
    first = await api.post(URL, json=EMAIL, headers=headers)
    reordered = msgspec.json.encode(dict(reversed(list(EMAIL.items()))))
    second = await api.post(
        URL, content=reordered, headers={**headers, "Content-Type": "application/json"}
    )
    assert second.status_code == 202 and second.json()["jobId"] == first.json()["jobId"]


async def test_a_job_keeps_a_keyed_fingerprint_of_its_command_and_only_with_a_key(
    api, settings
) -> None:
    keyed = await api.post(URL, json=EMAIL, headers={**ADMIN, "Idempotency-Key": "k-fp"})
    await api.post(URL, json={**EMAIL, "data": {"name": "Grace"}}, headers=ADMIN)

    stored = {str(row["id"]): row["request_hash"] for row in job_rows(settings.database_url)}
    fingerprint = stored.pop(keyed.json()["jobId"])
    assert list(stored.values()) == [None]  # no key: nothing to compare, nothing kept
    canonical = canonical_request(SendEmail(**EMAIL))
    assert fingerprint != hashlib.sha256(canonical).hexdigest()  # not testable without the key
    assert fingerprint == request_fingerprint(settings.request_fingerprint_key, canonical)


async def test_a_reused_key_with_another_body_is_a_conflict(api, settings) -> None:
    headers = {**ADMIN, "Idempotency-Key": "k-2"}
    await api.post(URL, json=EMAIL, headers=headers)
    other = {**EMAIL, "data": {"name": "Grace"}}

    problem = assert_problem(await api.post(URL, json=other, headers=headers), 409)
    assert problem["code"] == "idempotency_key_reused"
    assert len(job_rows(settings.database_url)) == 1


async def test_without_a_key_every_call_is_a_new_job(api, settings) -> None:
    first = await api.post(URL, json=EMAIL, headers=ADMIN)
    second = await api.post(URL, json=EMAIL, headers=ADMIN)
    assert first.json()["jobId"] != second.json()["jobId"]
    assert len(job_rows(settings.database_url)) == 2


@pytest.mark.parametrize(
    "key", ["", "has space", "tab\there", "x" * 256, "caf\u00e9".encode(), b"\x00bin"]
)
async def test_a_malformed_idempotency_key_is_a_400(api, settings, key) -> None:
    response = await api.post(URL, json=EMAIL, headers={**ADMIN, "Idempotency-Key": key})
    problem = assert_problem(response, 400)
    assert [error["field"] for error in problem["errors"]] == ["Idempotency-Key"]
    assert job_rows(settings.database_url) == []


async def test_the_longest_allowed_key_is_accepted(api) -> None:
    response = await api.post(URL, json=EMAIL, headers={**ADMIN, "Idempotency-Key": "~" * 255})
    assert response.status_code == 202


UNACCEPTABLE = {
    "invalid address": ({**EMAIL, "to": "not-an-address"}, "to"),
    "unknown template": ({**EMAIL, "template": "no_such_template"}, "template"),
    "missing data": ({"to": EMAIL["to"], "template": "welcome"}, "data"),
    "data lacks a field": ({**EMAIL, "data": {}}, "data"),
    "unexpected data field": ({**EMAIL, "data": {"name": "Ada", "extra": "x"}}, "data"),
    "bad url": (
        {
            **EMAIL,
            "template": "password_reset",
            "data": {"name": "Ada", "resetUrl": "javascript:alert(1)", "expiresInMinutes": 30},
        },
        "data",
    ),
}


@pytest.mark.parametrize("body,field", UNACCEPTABLE.values(), ids=UNACCEPTABLE.keys())
async def test_unacceptable_content_is_a_422_naming_the_field(api, settings, body, field) -> None:
    problem = assert_problem(await api.post(URL, json=body, headers=ADMIN), 422)
    assert problem["code"] == "validation_failed"
    assert [error["field"] for error in problem["errors"]] == [field]
    assert "not-an-address" not in problem["detail"]
    assert job_rows(settings.database_url) == []


MALFORMED = {
    "broken json": b'{"to": "a@example.com", "template": ',
    "not an object": b'["a@example.com"]',
    "wrong type": b'{"to": 42, "template": "welcome", "data": {"name": "Ada"}}',
    "nested wrong type": b'{"to": "a@example.com", "template": "welcome", "data": {"name": []}}',
    "unknown field": b'{"to": "a@example.com", "template": "welcome", "data": {}, "cc": "b"}',
    "missing field": b'{"template": "welcome", "data": {"name": "Ada"}}',
    "empty body": b"",
    "not utf-8": b'{"to": "\xff\xfe"}',
}


@pytest.mark.parametrize("content", MALFORMED.values(), ids=MALFORMED.keys())
async def test_a_malformed_body_is_a_400(api, settings, content) -> None:
    headers = {**ADMIN, "Content-Type": "application/json"}
    problem = assert_problem(await api.post(URL, content=content, headers=headers), 400)
    assert problem["code"] == "bad_request"
    assert "Validation failed for" not in problem["detail"]  # Litestar's text quotes the URL
    assert job_rows(settings.database_url) == []


async def test_an_empty_body_is_reported_as_the_body(api) -> None:
    headers = {**ADMIN, "Content-Type": "application/json"}
    problem = assert_problem(await api.post(URL, content=b"", headers=headers), 400)
    assert problem["errors"] == [{"field": "body", "message": "is required"}]


async def test_an_oversized_body_is_a_413(settings) -> None:
    small = msgspec.structs.replace(settings, max_request_body_bytes=2_000)
    async with api_client(small) as api:
        big = {**EMAIL, "data": {"name": "A" * 5_000}}
        problem = assert_problem(await api.post(URL, json=big, headers=ADMIN), 413)
        assert problem["title"] == "Request Entity Too Large"
        fits = await api.post(URL, json=EMAIL, headers=ADMIN)
        assert fits.status_code == 202
    assert len(job_rows(settings.database_url)) == 1
