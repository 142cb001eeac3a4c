"""The SMTP and outbox mailers against a real SMTP server (aiosmtpd) and a real folder."""

from __future__ import annotations

import asyncio
import time
import uuid
from email import policy
from email.parser import BytesParser
from pathlib import Path

import msgspec
import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword

from domain.adapters.notifications.mailers import (
    OutboxMailer,
    SmtpEndpoint,
    SmtpMailer,
    build_mailer,
    build_mime,
    outbox_file_name,
    parse_smtp_url,
)
from domain.adapters.notifications.renderer import JinjaEmailRenderer
from domain.errors import PermanentFailure, TransientFailure
from domain.notifications.email import message_id_for
from domain.notifications.ports import RenderedEmail
from domain.settings import Settings, SettingsError
from tests.conftest import TEST_PHI_KEYS
from tests.support.servers import free_port
from tests.support.smtp import RecordingHandler, SmtpServer, running_smtp_server

TO = "patient.one@example.org"
SENDER = "Healthplat <no-reply@mail.example.org>"
DATA = {"code": "048213", "expiresInMinutes": 5}


def mail_settings(tmp_path: Path, smtp_url: str | None, **extra: object) -> Settings:
    return Settings(
        database_url="postgresql://unused",
        redis_url="redis://unused",
        jwt_secret="x" * 40,
        phi_keys=TEST_PHI_KEYS,
        phi_active_key_id="test-k1",
        data_dir=tmp_path / "data",
        smtp_url=smtp_url,
        smtp_from=SENDER,
        **extra,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def email() -> RenderedEmail:
    return JinjaEmailRenderer().render("one_time_code", DATA)


@pytest.fixture
def message_id() -> str:
    return message_id_for(uuid.uuid4(), "mail.example.org")


# -- SMTP_URL ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "endpoint"),
    [
        ("smtp://mail.local", SmtpEndpoint("mail.local", 25, use_tls=False, start_tls=None)),
        ("smtp://mail.local:2525", SmtpEndpoint("mail.local", 2525, False, None)),
        ("smtp://mail.local:587?starttls=true", SmtpEndpoint("mail.local", 587, False, True)),
        ("smtp://mail.local:25?starttls=false", SmtpEndpoint("mail.local", 25, False, False)),
        (
            "smtp://user:pw@mail.local:587",
            SmtpEndpoint("mail.local", 587, False, True, username="user", password="pw"),
        ),
        (
            "smtp://user:pw@relay.local?starttls=off",
            SmtpEndpoint("relay.local", 25, False, False, username="user", password="pw"),
        ),
        ("smtps://mail.local", SmtpEndpoint("mail.local", 465, use_tls=True, start_tls=False)),
        (
            "smtps://us%40er:p%3Ass%2Fw@mail.local:1465",
            SmtpEndpoint("mail.local", 1465, True, False, username="us@er", password="p:ss/w"),
        ),
        ("smtp://apikey:@mail.local", SmtpEndpoint("mail.local", 25, False, True, "apikey", "")),
    ],
)
def test_smtp_url_is_parsed(url: str, endpoint: SmtpEndpoint) -> None:
    assert parse_smtp_url(url) == endpoint


@pytest.mark.parametrize(
    "url",
    [
        "http://mail.local",
        "smtp://",
        "smtp://user:hunter2@mail.local:notaport",
        "smtps://mail.local?starttls=true",
        "smtp://user:hunter2@mail.local?starttls=maybe",
    ],
)
def test_bad_smtp_url_is_refused_without_quoting_it(url: str) -> None:
    with pytest.raises(SettingsError) as caught:
        parse_smtp_url(url)
    assert "hunter2" not in str(caught.value)


def test_build_mailer_chooses_by_smtp_url(tmp_path: Path) -> None:
    assert isinstance(build_mailer(mail_settings(tmp_path, None)), OutboxMailer)
    assert isinstance(build_mailer(mail_settings(tmp_path, "smtp://127.0.0.1:2525")), SmtpMailer)


# -- the MIME message ----------------------------------------------------------------------


def test_mime_message_has_both_parts_and_the_headers(email: RenderedEmail, message_id: str) -> None:
    message = build_mime(sender=SENDER, to_address=TO, message_id=message_id, email=email)
    parsed = BytesParser(policy=policy.default).parsebytes(message.as_bytes())
    assert parsed.get_content_type() == "multipart/alternative"
    assert parsed["Message-ID"] == message_id
    assert parsed["To"] == TO
    assert parsed["From"] == SENDER
    assert parsed["Subject"] == email.subject
    assert parsed["Date"]
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed.get_body(("plain",)).get_content() == email.text
    assert parsed.get_body(("html",)).get_content() == email.html


# -- SMTP ----------------------------------------------------------------------------------


async def test_smtp_delivers_the_message(
    tmp_path: Path, smtp_server: SmtpServer, email: RenderedEmail, message_id: str
) -> None:
    mailer = SmtpMailer(mail_settings(tmp_path, smtp_server.url))
    transport = await mailer.deliver(to_address=TO, message_id=message_id, email=email)

    assert transport == "smtp"
    [received] = smtp_server.messages
    assert received.rcpt_tos == [TO]
    assert received.mail_from == "no-reply@mail.example.org"
    parsed = received.parsed
    assert parsed["To"] == TO
    assert parsed["Message-ID"] == message_id
    assert parsed["Subject"] == "Your Healthplat sign-in code"
    assert "048213" in parsed.get_body(("plain",)).get_content()
    assert "048213" in parsed.get_body(("html",)).get_content()
    assert "5 minutes" in parsed.get_body(("plain",)).get_content()


async def test_smtp_redelivery_keeps_the_message_id(
    tmp_path: Path, smtp_server: SmtpServer, email: RenderedEmail, message_id: str
) -> None:
    mailer = SmtpMailer(mail_settings(tmp_path, smtp_server.url))
    for _ in range(2):
        await mailer.deliver(to_address=TO, message_id=message_id, email=email)
    assert [m.parsed["Message-ID"] for m in smtp_server.messages] == [message_id, message_id]


@pytest.mark.parametrize(
    ("at", "reply", "failure", "code"),
    [
        ("data", "451 4.3.0 try later", TransientFailure, "smtp_451"),
        ("rcpt", "450 4.2.1 mailbox busy patient.one@example.org", TransientFailure, "smtp_450"),
        ("rcpt", "550 5.1.1 no such user patient.one@example.org", PermanentFailure, "smtp_550"),
        ("data", "554 5.7.1 message refused", PermanentFailure, "smtp_554"),
    ],
)
async def test_smtp_refusals_are_classified(
    tmp_path: Path,
    smtp_server: SmtpServer,
    email: RenderedEmail,
    message_id: str,
    at: str,
    reply: str,
    failure: type[Exception],
    code: str,
) -> None:
    smtp_server.handler.answer(reply, at=at)  # type: ignore[arg-type]
    mailer = SmtpMailer(mail_settings(tmp_path, smtp_server.url))

    with pytest.raises(failure) as caught:
        await mailer.deliver(to_address=TO, message_id=message_id, email=email)

    error = caught.value
    assert error.code == code  # type: ignore[attr-defined]
    assert code.removeprefix("smtp_") in error.message  # type: ignore[attr-defined]
    text = f"{error.message} {error!s} {error!r}"  # type: ignore[attr-defined]
    assert TO not in text
    for server_words in ("try later", "no such user", "mailbox busy", "message refused"):
        assert server_words not in text
    assert error.__cause__ is None and error.__suppress_context__
    assert smtp_server.messages == []


async def test_smtp_answering_4xx_is_not_retried_in_the_adapter(
    tmp_path: Path, smtp_server: SmtpServer, email: RenderedEmail, message_id: str
) -> None:
    """A deferral is the job level's business (minutes), not a matter of seconds."""
    attempts = 0
    original = smtp_server.handler.handle_RCPT

    async def counting(*args: object) -> str:
        nonlocal attempts
        attempts += 1
        return await original(*args)  # type: ignore[arg-type]

    smtp_server.handler.handle_RCPT = counting  # type: ignore[method-assign]
    smtp_server.handler.answer("451 4.3.0 try later", at="rcpt")
    mailer = SmtpMailer(mail_settings(tmp_path, smtp_server.url), first_wait_seconds=0.01)
    with pytest.raises(TransientFailure):
        await mailer.deliver(to_address=TO, message_id=message_id, email=email)
    assert attempts == 1


async def test_smtp_not_listening_is_transient_after_quick_retries(
    tmp_path: Path, email: RenderedEmail, message_id: str
) -> None:
    mailer = SmtpMailer(mail_settings(tmp_path, f"smtp://127.0.0.1:{free_port()}"))
    started = time.monotonic()
    with pytest.raises(TransientFailure) as caught:
        await mailer.deliver(to_address=TO, message_id=message_id, email=email)
    elapsed = time.monotonic() - started

    assert caught.value.code == "smtp_unreachable"
    assert 0.7 <= elapsed < 3.0  # two backoffs (0.25 s + 0.5 s) between three tries


async def test_smtp_dropped_connections_are_tried_three_times(
    tmp_path: Path, email: RenderedEmail, message_id: str
) -> None:
    connections = 0

    async def hang_up(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        mailer = SmtpMailer(
            mail_settings(tmp_path, f"smtp://127.0.0.1:{port}"), first_wait_seconds=0.01
        )
        with pytest.raises(TransientFailure) as caught:
            await mailer.deliver(to_address=TO, message_id=message_id, email=email)
    finally:
        server.close()
        await server.wait_closed()
    assert caught.value.code == "smtp_unreachable"
    assert connections == 3


async def test_smtp_timeout_is_transient(
    tmp_path: Path, smtp_server: SmtpServer, email: RenderedEmail, message_id: str
) -> None:
    smtp_server.handler.delay_seconds = 1.0
    settings = mail_settings(tmp_path, smtp_server.url, smtp_timeout_seconds=0.2)
    mailer = SmtpMailer(settings, tries=2, first_wait_seconds=0.01)
    started = time.monotonic()
    with pytest.raises(TransientFailure) as caught:
        await mailer.deliver(to_address=TO, message_id=message_id, email=email)
    assert caught.value.code == "smtp_unreachable"
    assert time.monotonic() - started < 1.5


async def test_smtp_logs_in_with_url_decoded_credentials(
    tmp_path: Path, email: RenderedEmail, message_id: str
) -> None:
    logins: list[tuple[bytes, bytes]] = []

    def authenticator(
        _server: object, _session: object, _envelope: object, _mechanism: str, data: object
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        logins.append((data.login, data.password))
        # handled=False: the server, not this hook, sends the 235 or 535 reply.
        return AuthResult(success=data.password == b"p@ss:w/rd", handled=False)

    with running_smtp_server(RecordingHandler(), authenticator=authenticator) as server:
        url = f"smtp://mailer:p%40ss%3Aw%2Frd@{server.host}:{server.port}?starttls=false"
        await SmtpMailer(mail_settings(tmp_path, url)).deliver(
            to_address=TO, message_id=message_id, email=email
        )
        bad = f"smtp://mailer:wrong@{server.host}:{server.port}?starttls=false"
        with pytest.raises(PermanentFailure) as caught:
            await SmtpMailer(mail_settings(tmp_path, bad)).deliver(
                to_address=TO, message_id=message_id, email=email
            )
        assert len(server.messages) == 1
    assert logins[0] == (b"mailer", b"p@ss:w/rd")
    assert caught.value.code == "smtp_535"
    assert "wrong" not in caught.value.message


async def test_credentials_never_cross_in_clear_unless_the_url_allows_it(
    tmp_path: Path, email: RenderedEmail, message_id: str
) -> None:
    logins: list[object] = []

    def authenticator(*args: object) -> AuthResult:
        logins.append(args)
        return AuthResult(success=True, handled=False)

    with running_smtp_server(RecordingHandler(), authenticator=authenticator) as server:
        url = f"smtp://mailer:secret@{server.host}:{server.port}"  # the server offers no STARTTLS
        with pytest.raises(PermanentFailure) as caught:
            await SmtpMailer(mail_settings(tmp_path, url)).deliver(
                to_address=TO, message_id=message_id, email=email
            )
        assert server.messages == []
    assert logins == []
    assert caught.value.code == "smtp_starttls_unavailable"


# -- outbox --------------------------------------------------------------------------------


async def test_outbox_writes_a_parseable_eml(
    tmp_path: Path, email: RenderedEmail, message_id: str
) -> None:
    settings = mail_settings(tmp_path, None)
    mailer = OutboxMailer(settings)
    transport = await mailer.deliver(to_address=TO, message_id=message_id, email=email)

    assert transport == "outbox"
    [path] = settings.outbox_dir.iterdir()
    assert path.name == outbox_file_name(message_id)
    assert path.suffix == ".eml"
    parsed = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    assert parsed["Message-ID"] == message_id
    assert parsed["To"] == TO
    assert parsed["Subject"] == email.subject
    assert parsed.get_body(("plain",)).get_content() == email.text
    assert parsed.get_body(("html",)).get_content() == email.html


async def test_outbox_redelivery_overwrites(
    tmp_path: Path, email: RenderedEmail, message_id: str
) -> None:
    settings = mail_settings(tmp_path, None)
    mailer = OutboxMailer(settings)
    await mailer.deliver(to_address=TO, message_id=message_id, email=email)
    changed = msgspec.structs.replace(email, subject="Second attempt")
    await mailer.deliver(to_address=TO, message_id=message_id, email=changed)

    files = list(settings.outbox_dir.iterdir())
    assert len(files) == 1, "no second file and no temporary file left behind"
    parsed = BytesParser(policy=policy.default).parsebytes(files[0].read_bytes())
    assert parsed["Subject"] == "Second attempt"


async def test_outbox_write_failure_is_transient(
    tmp_path: Path, email: RenderedEmail, message_id: str
) -> None:
    settings = mail_settings(tmp_path, None)
    settings.data_dir.mkdir(parents=True)
    settings.outbox_dir.write_text("a file where the folder should be")
    with pytest.raises(TransientFailure) as caught:
        await OutboxMailer(settings).deliver(to_address=TO, message_id=message_id, email=email)
    assert caught.value.code == "outbox_write_failed"


@pytest.mark.parametrize(
    ("message_id", "name"),
    [
        ("<job-1234@mail.example.org>", "job-1234@mail.example.org.eml"),
        ("<../../etc/passwd>", ".._.._etc_passwd.eml"),
        ("<>", "_.eml"),
    ],
)
def test_outbox_file_names_stay_in_the_folder(message_id: str, name: str) -> None:
    assert outbox_file_name(message_id) == name
    assert "/" not in outbox_file_name(message_id)
