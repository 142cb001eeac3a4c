"""Submitting an e-mail job and running its handler, on real PostgreSQL, Redis and SMTP."""

from __future__ import annotations

import dataclasses
import uuid
from email import policy
from email.parser import BytesParser

import msgspec
import pytest

from domain.adapters.bootstrap import Services
from domain.adapters.notifications.mailers import SmtpMailer, outbox_file_name
from domain.auditing import SYSTEM
from domain.errors import Conflict, PermanentFailure, SealBroken, ValidationFailed
from domain.jobs.model import JobStatus
from domain.jobs.ports import Submission
from domain.notifications.email import SendEmail, message_id_for, sender_domain, submit_email
from domain.notifications.jobs import EMAIL_SEND
from tests.support.emails import email_rows_as_text
from tests.support.handlers import send_email
from tests.support.platform import wired
from tests.support.smtp import SmtpServer

TO = "Patient.One@Example.ORG"
NORMALIZED_TO = "Patient.One@example.org"
DATA = {
    "name": "Sokha Chan",
    "resetUrl": "https://app.example.org/reset?t=tok-5521",
    "expiresInMinutes": 30,
}
COMMAND = SendEmail(to=TO, template="password_reset", data=DATA)


async def submit(
    services: Services, command: SendEmail = COMMAND, *, key: str | None = "key-1"
) -> Submission:
    return await wired(services).run(
        submit_email,
        command,
        owner_id="user-1",
        idempotency_key=key,
        message_id_domain=sender_domain(services.settings.smtp_from),
        audit=SYSTEM,
    )


async def count(services: Services, table: str) -> int:
    async with services.pool.connection() as conn:
        cursor = await conn.execute(f"SELECT count(*) AS n FROM {table}")
        row = await cursor.fetchone()
    assert row is not None
    return row["n"]


def assert_no_phi(encoded: bytes) -> None:
    text = encoded.decode().lower()
    assert TO.lower() not in text
    for value in DATA.values():
        if isinstance(value, str):  # a small number could turn up inside a random uuid
            assert value.lower() not in text


# -- submitting ----------------------------------------------------------------------------


async def test_submit_creates_one_job_and_one_email(services: Services) -> None:
    submission = await submit(services)

    assert submission.created
    job = submission.job
    assert job.kind == EMAIL_SEND.name == "email.send"
    assert job.queue == "email"
    assert job.status is JobStatus.QUEUED
    assert job.max_attempts == EMAIL_SEND.max_attempts
    assert set(job.payload) == {"emailId"}
    email_id = uuid.UUID(job.payload["emailId"])

    stored = await services.store.get(job.id)
    assert stored is not None
    assert stored.payload == job.payload
    assert_no_phi(msgspec.json.encode(stored.payload))

    async with services.uow() as uow:
        email = await uow.emails.get(email_id)
    assert email is not None
    assert email.job_id == job.id
    assert email.to_address == NORMALIZED_TO
    assert email.template == "password_reset"
    assert email.data == DATA
    assert email.message_id == message_id_for(job.id, "localhost")
    assert await count(services, "jobs") == 1
    assert await count(services, "email_messages") == 1
    assert_no_phi(email_rows_as_text(services.settings.database_url).encode())


async def test_a_sealed_address_moved_to_another_row_does_not_open(services: Services) -> None:
    first = (await submit(services, key=None)).job
    second = (await submit(services, key=None)).job
    async with services.uow() as uow:
        await uow.connection.execute(
            """
            UPDATE email_messages AS e
            SET to_address_sealed = f.to_address_sealed, to_address_key_id = f.to_address_key_id
            FROM email_messages AS f WHERE e.job_id = %s AND f.job_id = %s
            """,
            (second.id, first.id),
        )

    async with services.uow() as uow:
        with pytest.raises(SealBroken):
            await uow.emails.get(uuid.UUID(second.payload["emailId"]))
        opened = await uow.emails.get(uuid.UUID(first.payload["emailId"]))
    assert opened is not None and opened.to_address == NORMALIZED_TO


async def test_replay_returns_the_same_job_and_writes_nothing(services: Services) -> None:
    first = await submit(services)
    replay = await submit(services, SendEmail(to=TO, template="password_reset", data=dict(DATA)))

    assert not replay.created
    assert replay.job.id == first.job.id
    assert replay.job.payload == first.job.payload
    assert await count(services, "jobs") == 1
    assert await count(services, "email_messages") == 1


async def test_same_key_different_body_conflicts(services: Services) -> None:
    await submit(services)
    other = SendEmail(to=TO, template="password_reset", data={**DATA, "expiresInMinutes": 15})
    with pytest.raises(Conflict):
        await submit(services, other)
    assert await count(services, "jobs") == 1
    assert await count(services, "email_messages") == 1


async def test_without_a_key_every_submit_is_new(services: Services) -> None:
    first = await submit(services, key=None)
    second = await submit(services, key=None)
    assert first.job.id != second.job.id
    assert await count(services, "email_messages") == 2


@pytest.mark.parametrize(
    ("command", "field"),
    [
        (SendEmail(to=TO, template="no_such_template", data=DATA), "template"),
        (SendEmail(to="not-an-address", template="password_reset", data=DATA), "to"),
        (SendEmail(to="a@localhost", template="password_reset", data=DATA), "to"),
        (SendEmail(to=TO, template="password_reset", data={"name": "Sokha Chan"}), "data"),
        (SendEmail(to=TO, template="password_reset", data={**DATA, "x": "y"}), "data"),
    ],
)
async def test_invalid_commands_write_nothing(
    services: Services, command: SendEmail, field: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        await submit(services, command)
    assert caught.value.field == field
    assert command.to not in caught.value.message
    assert await count(services, "jobs") == 0
    assert await count(services, "email_messages") == 0


# -- the handler ---------------------------------------------------------------------------


async def test_handler_delivers_to_the_outbox_by_default(services: Services) -> None:
    job = (await submit(services)).job

    result = await send_email(job, services)

    message_id = message_id_for(job.id, "localhost")
    assert result == {"messageId": message_id, "transport": "outbox"}
    assert_no_phi(msgspec.json.encode(result))
    path = services.settings.outbox_dir / outbox_file_name(message_id)
    parsed = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    assert parsed["To"] == NORMALIZED_TO
    assert parsed["Message-ID"] == message_id


async def test_handler_delivers_over_smtp(services: Services, smtp_server: SmtpServer) -> None:
    settings = msgspec.structs.replace(services.settings, smtp_url=smtp_server.url)
    over_smtp = dataclasses.replace(services, mailer=SmtpMailer(settings))
    job = (await submit(services)).job

    result = await send_email(job, over_smtp)

    assert result["transport"] == "smtp"
    [received] = smtp_server.messages
    assert received.rcpt_tos == [NORMALIZED_TO]
    assert received.parsed["Message-ID"] == result["messageId"]
    assert received.parsed["Subject"] == "Reset your Healthplat password"
    assert DATA["resetUrl"] in received.parsed.get_body(("plain",)).get_content()


async def test_handler_passes_a_refusal_on(services: Services, smtp_server: SmtpServer) -> None:
    smtp_server.handler.answer("550 5.1.1 no such user", at="rcpt")
    settings = msgspec.structs.replace(services.settings, smtp_url=smtp_server.url)
    over_smtp = dataclasses.replace(services, mailer=SmtpMailer(settings))
    job = (await submit(services)).job

    with pytest.raises(PermanentFailure) as caught:
        await send_email(job, over_smtp)
    assert caught.value.code == "smtp_550"


@pytest.mark.parametrize("payload", [{"emailId": str(uuid.uuid4())}, {"emailId": "not-a-uuid"}, {}])
async def test_handler_fails_permanently_without_its_email(
    services: Services, payload: dict[str, str]
) -> None:
    job = (await submit(services)).job
    with pytest.raises(PermanentFailure):
        await send_email(msgspec.structs.replace(job, payload=payload), services)
