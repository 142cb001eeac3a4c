"""E-mail as a job, through fakes: what is refused at once, what the job carries, sending once."""

from __future__ import annotations

import uuid

import pytest

from domain.auditing import SYSTEM
from domain.errors import PermanentFailure, TransientFailure, ValidationFailed
from domain.notifications.email import SendEmail, submit_email
from domain.notifications.jobs import EMAIL_SEND
from domain.notifications.sending import EmailPayload
from domain.settings import Settings
from domain.wiring import Wired
from tests.fakes.audit import FakeAuditLog, audited
from tests.fakes.database import FakeUnitOfWorkFactory
from tests.fakes.emails import FakeAddresses, FakeEmailRepository, FakeRenderer
from tests.fakes.jobs import FakeJobRepository, RecordingSender
from tests.fakes.notifications import FakeMailer

WELCOME = SendEmail(to="New.Patient@Example.ORG", template="welcome", data={"name": "Sokha"})


async def direct(step):
    return await step()


class Mail:
    def __init__(self) -> None:
        self.uow = FakeUnitOfWorkFactory(
            {"jobs": FakeJobRepository, "audit": FakeAuditLog, "emails": FakeEmailRepository}
        )
        self.sender = RecordingSender()
        self.mailer = FakeMailer()
        settings = Settings(
            database_url="postgresql://unused",
            redis_url="redis://unused",
            jwt_secret="x" * 40,
            data_dir="/nonexistent",
            phi_keys={"k": bytes(32)},
            phi_active_key_id="k",
            smtp_from="Healthplat <no-reply@clinic.example>",
        )
        self.cases = Wired(
            {
                "uow_factory": self.uow,
                "sender": self.sender,
                "renderer": FakeRenderer(),
                "addresses": FakeAddresses(),
                "settings": settings,
                "mailer": self.mailer,
                "held": direct,
            }
        )

    async def submit(self, command: SendEmail = WELCOME, key: str | None = "k-1"):
        return await self.cases.run(submit_email, command, "admin-1", key, SYSTEM)

    async def send(self, job):
        payload = EmailPayload(email_id=uuid.UUID(job.payload["emailId"]))
        return await self.cases.run(EMAIL_SEND.handler, job, payload)

    def emails(self):
        return list(self.uow.database.table("emails").values())


@pytest.fixture
def mail() -> Mail:
    return Mail()


async def test_the_job_names_the_email_row_and_nothing_of_its_content(mail) -> None:
    submission = await mail.submit()
    [email] = mail.emails()
    assert submission.job.payload == {"emailId": str(email.id)}  # no address, no data
    assert email.to_address == "New.Patient@example.org"
    assert email.message_id == f"<job-{submission.job.id}@clinic.example>"
    assert mail.sender.sent == [(submission.job.id, 0.0)]
    assert [entry.action for entry in audited(mail.uow.database)] == ["email.send"]


@pytest.mark.parametrize(
    "command",
    [
        SendEmail(to="not-an-address", template="welcome", data={"name": "A"}),
        SendEmail(to="a@example.org", template="no_such_template", data={}),
        SendEmail(to="a@example.org", template="welcome", data={}),
        SendEmail(to="a@example.org", template="welcome", data={"name": "A", "extra": "x"}),
    ],
)
async def test_a_bad_command_is_refused_at_once_and_leaves_nothing(mail, command) -> None:
    with pytest.raises(ValidationFailed):
        await mail.submit(command)
    assert mail.emails() == [] and mail.sender.sent == []
    assert audited(mail.uow.database) == []


async def test_a_replay_with_the_same_key_stores_nothing_twice(mail) -> None:
    first = await mail.submit()
    again = await mail.submit()
    assert again.job.id == first.job.id and not again.created
    assert len(mail.emails()) == 1
    assert len(audited(mail.uow.database)) == 1


async def test_a_message_is_handed_over_once_even_if_its_job_runs_again(mail) -> None:
    job = (await mail.submit()).job
    first = await mail.send(job)
    second = await mail.send(job)  # the relay's re-run after a lost outcome
    assert first == second == {"messageId": mail.emails()[0].message_id, "transport": "fake"}
    assert len(mail.mailer.sent) == 1
    assert mail.emails()[0].handed_over_at is not None


async def test_a_refusing_mail_server_decides_between_retry_and_failure(mail) -> None:
    job = (await mail.submit()).job
    mail.mailer.refuse = TransientFailure("try later", code="smtp_451")
    with pytest.raises(TransientFailure):
        await mail.send(job)
    mail.mailer.refuse = PermanentFailure("no such user", code="smtp_550")
    with pytest.raises(PermanentFailure):
        await mail.send(job)
    assert mail.emails()[0].handed_over_at is None  # nothing went out, nothing recorded


async def test_a_job_whose_email_is_gone_fails_for_good(mail) -> None:
    job = (await mail.submit()).job
    mail.uow.database.table("emails").clear()
    with pytest.raises(PermanentFailure) as failure:
        await mail.send(job)
    assert failure.value.code == "email_missing"
