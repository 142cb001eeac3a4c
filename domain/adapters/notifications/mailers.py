"""Delivering rendered e-mails: over SMTP, or into an outbox folder when no SMTP server is set.

Both build the same MIME message (``build_mime``) with the e-mail's stable
Message-ID, so a message delivered twice after a retry can be recognised as
one by whoever receives it.

Errors: a flaky connection (refused, reset, timed out, dropped) is retried
here a few times within a second or so; if it persists, or the server answers
4xx, the job level retries later (TransientFailure); a 5xx answer will not
change on a retry (PermanentFailure). No error carries the server's reply
text, which often quotes the recipient's address.
"""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

from domain.errors import JobFailure, PermanentFailure, TransientFailure
from domain.notifications.ports import Mailer, RenderedEmail
from domain.setting_values import refusal
from domain.settings import Settings, SettingsError

DEFAULT_PORTS = {"smtp": 25, "smtps": 465}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def build_mime(
    *,
    sender: str,
    to_address: str,
    message_id: str,
    email: RenderedEmail,
    date: datetime | None = None,
) -> EmailMessage:
    """The message both mailers deliver: text with an HTML alternative, under a fixed Message-ID."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to_address
    message["Subject"] = email.subject
    message["Date"] = format_datetime(date or datetime.now(UTC))
    message["Message-ID"] = message_id
    # RFC 3834: keeps vacation auto-replies from answering a no-reply address.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    return message


@dataclass(frozen=True)
class SmtpEndpoint:
    hostname: str
    port: int
    use_tls: bool
    # True: STARTTLS or no delivery; False: never; None: upgrade when the server offers it.
    # With a user name and no ?starttls, it is True.
    start_tls: bool | None
    username: str | None = None
    password: str | None = None


SMTP_URL_FORM = "an smtp:// or smtps:// URL, e.g. smtp://user:password@mail.example.org:587"


def parse_smtp_url(url: str) -> SmtpEndpoint:
    """Read SMTP_URL; a refusal quotes it with its password masked (``refusal``)."""
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS:
        raise SettingsError(refusal("SMTP_URL", f"be {SMTP_URL_FORM}", url))
    if not parts.hostname:
        raise SettingsError(refusal("SMTP_URL", f"name a host: {SMTP_URL_FORM}", url))
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError:
        raise SettingsError(refusal("SMTP_URL", "have a port from 1 to 65535", url)) from None
    username = unquote(parts.username) if parts.username else None
    start_tls = _start_tls(url, parse_qs(parts.query).get("starttls", [None])[-1])
    if parts.scheme == "smtps":
        if start_tls:
            raise SettingsError(
                refusal("SMTP_URL", "not ask for ?starttls with smtps:// (TLS already)", url)
            )
        start_tls = False
    elif start_tls is None and username is not None:
        start_tls = True  # a password never crosses in clear unless the operator says so
    return SmtpEndpoint(
        hostname=parts.hostname,
        port=port,
        use_tls=parts.scheme == "smtps",
        start_tls=start_tls,
        username=username,
        password=unquote(parts.password) if parts.password is not None else None,
    )


def _start_tls(url: str, value: str | None) -> bool | None:
    """``?starttls=``: true (required), false (never), absent (None: whenever offered)."""
    if value is None:
        return None
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    must = "say ?starttls=true or ?starttls=false, if at all"
    raise SettingsError(refusal("SMTP_URL", must, url))


def _is_flaky_connection(exc: BaseException) -> bool:
    # A reply with a code (even one at connect time) is the server's decision, not a glitch.
    return isinstance(exc, OSError) and not isinstance(exc, aiosmtplib.SMTPResponseException)


def _failure_for_code(code: int) -> JobFailure:
    if 400 <= code < 500:
        return TransientFailure(
            f"the mail server deferred the message ({code})", code=f"smtp_{code}"
        )
    if 500 <= code < 600:
        return PermanentFailure(
            f"the mail server refused the message ({code})", code=f"smtp_{code}"
        )
    return TransientFailure("the mail server gave an unexpected reply", code="smtp_bad_reply")


def _starttls_missing(exc: Exception) -> bool:
    """aiosmtplib's own refusal (no server text in it) when STARTTLS is required and not offered."""
    return type(exc) is aiosmtplib.SMTPException and "STARTTLS" in str(exc)


def _failure_for(exc: Exception) -> JobFailure:
    if _starttls_missing(exc):
        return PermanentFailure(
            "the mail server does not offer STARTTLS, which SMTP_URL requires "
            "(add ?starttls=false to allow sending in clear)",
            code="smtp_starttls_unavailable",
        )
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [refused.code for refused in exc.recipients]
        return _failure_for_code(codes[0] if codes else 550)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return _failure_for_code(exc.code)
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        return PermanentFailure(
            "the mail server lacks an extension this message needs", code="smtp_not_supported"
        )
    if isinstance(exc, OSError):
        return TransientFailure("the mail server could not be reached", code="smtp_unreachable")
    return TransientFailure("the mail server conversation failed", code="smtp_error")


class SmtpMailer:
    def __init__(
        self,
        settings: Settings,
        *,
        tries: int = 3,
        first_wait_seconds: float = 0.25,
        max_wait_seconds: float = 1.0,
    ) -> None:
        if not settings.smtp_url:
            raise SettingsError("SMTP_URL must be set to use the SMTP mailer")
        self._endpoint = parse_smtp_url(settings.smtp_url)
        self._from = settings.smtp_from
        self._envelope_from = parseaddr(settings.smtp_from)[1]
        self._timeout = settings.smtp_timeout_seconds
        self._tries = tries
        self._first_wait = first_wait_seconds
        self._max_wait = max_wait_seconds

    def _retrying(self) -> AsyncRetrying:
        return AsyncRetrying(
            stop=stop_after_attempt(self._tries),
            wait=wait_exponential(multiplier=self._first_wait, max=self._max_wait),
            retry=retry_if_exception(_is_flaky_connection),
            reraise=True,
        )

    async def deliver(self, *, to_address: str, message_id: str, email: RenderedEmail) -> str:
        message = build_mime(
            sender=self._from, to_address=to_address, message_id=message_id, email=email
        )
        endpoint = self._endpoint
        try:
            async for attempt in self._retrying():
                with attempt:
                    await aiosmtplib.send(
                        message,
                        sender=self._envelope_from,
                        recipients=[to_address],
                        hostname=endpoint.hostname,
                        port=endpoint.port,
                        username=endpoint.username,
                        password=endpoint.password,
                        use_tls=endpoint.use_tls,
                        start_tls=endpoint.start_tls,
                        timeout=self._timeout,
                    )
        except (aiosmtplib.SMTPException, OSError) as exc:
            # ``from None``: the cause's text is the server's reply, which may quote the address.
            raise _failure_for(exc) from None
        return "smtp"


_UNSAFE_FILE_CHARS = re.compile(r"[^A-Za-z0-9._@-]")


def outbox_file_name(message_id: str) -> str:
    """One file per Message-ID, so a retried delivery replaces its earlier copy."""
    stem = _UNSAFE_FILE_CHARS.sub("_", message_id.strip().strip("<>")) or "_"
    return f"{stem}.eml"


def _write_atomically(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # A dot-file until complete: whoever reads *.eml never sees half a message.
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


class OutboxMailer:
    """The embedded default: the platform runs without a mail server, and e-mails stay readable."""

    def __init__(self, settings: Settings) -> None:
        self._dir = settings.outbox_dir
        self._from = settings.smtp_from

    def path_for(self, message_id: str) -> Path:
        return self._dir / outbox_file_name(message_id)

    async def deliver(self, *, to_address: str, message_id: str, email: RenderedEmail) -> str:
        message = build_mime(
            sender=self._from, to_address=to_address, message_id=message_id, email=email
        )
        try:
            await asyncio.to_thread(
                _write_atomically, self.path_for(message_id), message.as_bytes()
            )
        except OSError as exc:  # a full or read-only disk may be fixed before the next try
            raise TransientFailure(
                "the outbox folder could not be written", code="outbox_write_failed"
            ) from exc
        return "outbox"


def build_mailer(settings: Settings) -> Mailer:
    return SmtpMailer(settings) if settings.smtp_url else OutboxMailer(settings)
