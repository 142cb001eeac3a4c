"""Helpers for account tests: sign the fixture people up, read what was e-mailed, count audits.

E-mails are read from ``email_messages`` (where their data lives, sealed, until
the worker sends them); the API answers before any worker runs.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import psycopg
import pyotp
from litestar import Litestar
from litestar.testing import AsyncTestClient
from psycopg.rows import dict_row

from tests.support.emails import stored_emails
from tests.support.people import Person
from tests.support.rows import audit_events

AUTH = "/api/v1/auth"


def signup_body(person: Person, role: str = "patient") -> dict[str, Any]:
    body: dict[str, Any] = {
        "role": role,
        "email": person.email,
        "password": person.password,
        "name": person.name,
    }
    if person.phone:
        body["phone"] = person.phone
    if role == "patient" and person.date_of_birth:
        body["dateOfBirth"] = person.date_of_birth
    if role == "doctor":
        body |= {
            "specialty": person.specialty,
            "licenceNumber": person.licence_number,
            "consultationFeeCents": person.consultation_fee_cents,
        }
    return body


def rows(database_url: str, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        return conn.execute(sql, params).fetchall()  # type: ignore[arg-type]


def execute(database_url: str, sql: str, params: tuple[Any, ...] = ()) -> None:
    with psycopg.connect(database_url) as conn:
        conn.execute(sql, params)  # type: ignore[arg-type]


def emails(database_url: str, template: str, to: str) -> list[dict[str, Any]]:
    """The data of every ``template`` e-mail to ``to``, oldest first."""
    return [
        email.data
        for email in stored_emails(database_url)
        if email.row["template"] == template and email.to_address.lower() == to.lower()
    ]


def last_email(database_url: str, template: str, to: str) -> dict[str, Any]:
    found = emails(database_url, template, to)
    assert found, f"no {template} e-mail"
    return found[-1]


def token_in(url: str) -> str:
    [token] = parse_qs(urlsplit(url).query)["token"]
    return token


def audit_actions(database_url: str, outcome: str = "success") -> Counter[str]:
    """How many events of each action; refusals (audited by the API's failure hook under the
    route's policy name, which may equal a service's action) are counted apart."""
    return Counter(event["action"] for event in audit_events(database_url, outcome=outcome))


def totp_code(secret: str, offset: int = 0) -> str:
    totp = pyotp.TOTP(secret)
    return totp.generate_otp(totp.timecode(time.time()) + offset)


def totp_code_at(secret: str, step: int) -> str:
    """The code of one fixed time step: immune to the clock crossing a step mid-test."""
    return pyotp.TOTP(secret).generate_otp(step)


async def sign_up(
    api: AsyncTestClient[Litestar], person: Person, role: str = "patient"
) -> httpx.Response:
    return await api.post(f"{AUTH}/signup", json=signup_body(person, role))


async def activate(
    api: AsyncTestClient[Litestar], database_url: str, person: Person, role: str = "patient"
) -> str:
    """Sign ``person`` up and verify the e-mail; returns the user id."""
    response = await sign_up(api, person, role)
    assert response.status_code == 201, response.text
    url = last_email(database_url, "account_verification", person.email)["verifyUrl"]
    verified = await api.post(f"{AUTH}/verify-email", json={"token": token_in(url)})
    assert verified.status_code == 200, verified.text
    return response.json()["userId"]


async def log_in(api: AsyncTestClient[Litestar], person: Person) -> dict[str, Any]:
    response = await api.post(
        f"{AUTH}/login", json={"email": person.email, "password": person.password}
    )
    assert response.status_code == 200, response.text
    return response.json()


def bearer_of(answer: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {answer['accessToken']}"}
