"""The e-mail job through the real lifecycle, mailer and SMTP server (aiosmtpd)."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator

import msgspec
import pytest

from domain.adapters.bootstrap import Services, build_services
from domain.adapters.jobs.messaging import build_broker
from domain.auditing import SYSTEM
from domain.jobs.model import JobStatus
from domain.notifications.email import SendEmail, message_id_for, submit_email
from tests.support.handlers import send_email
from tests.support.jobs import FlakyStore, RecordingSender
from tests.support.platform import wired
from tests.support.smtp import SmtpServer
from workers.lifecycle import LifecycleRunner

RESET = SendEmail(
    to="patient@example.org",
    template="password_reset",
    data={"name": "Dara", "resetUrl": "https://app.example.org/reset/abc", "expiresInMinutes": 30},
)


@pytest.fixture
async def smtp_services(settings, clock, smtp_server: SmtpServer) -> AsyncIterator[Services]:
    configured = msgspec.structs.replace(settings, smtp_url=smtp_server.url)
    built = build_services(configured, build_broker(settings.redis_url), clock=clock)
    await built.open()
    try:
        yield built
    finally:
        await built.close()


async def submit(services: Services):
    submission = await wired(services).run(
        submit_email,
        RESET,
        owner_id="admin-1",
        idempotency_key=None,
        message_id_domain="healthplat.test",
        audit=SYSTEM,
    )
    return submission.job


def runner_for(services: Services, sender: RecordingSender) -> LifecycleRunner:
    return LifecycleRunner(services.store, sender, services.clock, heartbeat_seconds=1)


async def test_delivered_message_has_subject_body_message_id_and_recipient(
    smtp_services, smtp_server
) -> None:
    job = await submit(smtp_services)
    runner = runner_for(smtp_services, RecordingSender(smtp_services.sender))

    done = await runner.run(job.id, functools.partial(send_email, services=smtp_services))

    assert done.status is JobStatus.SUCCEEDED
    [received] = smtp_server.messages
    mail = received.parsed
    assert received.rcpt_tos == ["patient@example.org"]
    assert mail["To"] == "patient@example.org"
    assert mail["Message-ID"] == message_id_for(job.id, "healthplat.test")
    assert done.result == {"messageId": mail["Message-ID"], "transport": "smtp"}
    assert "password" in mail["Subject"].lower()
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert "Dara" in text and "https://app.example.org/reset/abc" in text
    assert "https://app.example.org/reset/abc" in html


async def test_451_is_retried_on_schedule_then_delivered(smtp_services, smtp_server) -> None:
    job = await submit(smtp_services)
    sender = RecordingSender(smtp_services.sender)
    runner = runner_for(smtp_services, sender)
    handler = functools.partial(send_email, services=smtp_services)
    smtp_server.handler.answer("451 4.3.0 try again later", at="rcpt")

    retrying = await runner.run(job.id, handler)
    assert retrying.status is JobStatus.RETRYING and retrying.attempts == 1
    assert retrying.error.code.startswith("smtp_4")
    assert sender.sent[-1] == (job.id, 0.0)  # the schedule's first retry is immediate
    assert smtp_server.messages == []

    smtp_server.handler.accept()
    done = await runner.run(job.id, handler)
    assert done.status is JobStatus.SUCCEEDED and done.attempts == 2
    assert len(smtp_server.messages) == 1


async def test_550_fails_at_once_without_retry(smtp_services, smtp_server) -> None:
    job = await submit(smtp_services)
    sender = RecordingSender(smtp_services.sender)
    runner = runner_for(smtp_services, sender)
    smtp_server.handler.answer("550 5.1.1 no such user", at="rcpt")

    failed = await runner.run(job.id, functools.partial(send_email, services=smtp_services))

    assert failed.status is JobStatus.FAILED and failed.attempts == 1
    assert failed.error.code.startswith("smtp_5")
    assert "patient@example.org" not in failed.error.message
    assert sender.sent == []  # nothing scheduled again
    assert smtp_server.messages == []


async def test_a_rerun_after_a_lost_outcome_completes_without_sending_again(
    smtp_services, smtp_server, clock
) -> None:
    """The message went out, then the database stayed away past the stale window: the
    success was never written and the relay took the job back. The new attempt finds the
    e-mail's record of its hand-over and only completes the job."""
    job = await submit(smtp_services)
    sender = RecordingSender(smtp_services.sender)
    handler = functools.partial(send_email, services=smtp_services)
    lost = FlakyStore(smtp_services.store, "succeed", failures=None)
    first = LifecycleRunner(lost, sender, clock, heartbeat_seconds=60, stale_after_seconds=0.3)
    assert await first.run(job.id, handler) is None
    assert len(smtp_server.messages) == 1
    clock.advance(60)
    [recovered] = await smtp_services.store.recover_stale(30, 10)
    assert recovered.error.code == "worker_lost"

    done = await runner_for(smtp_services, sender).run(job.id, handler)

    assert done.status is JobStatus.SUCCEEDED and done.attempts == 2
    assert len(smtp_server.messages) == 1  # not sent again
    assert done.result == {
        "messageId": message_id_for(job.id, "healthplat.test"),
        "transport": "smtp",
    }
