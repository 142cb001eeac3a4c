"""A real SMTP server (aiosmtpd) for tests, which records what it receives and refuses on demand.

The server runs in its own thread and event loop (aiosmtpd's Controller), so
it answers while the test's loop is busy sending, or while worker processes
deliver to it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any, Literal

import pytest
from aiosmtpd.controller import Controller

from tests.support.servers import free_port


@dataclass(frozen=True)
class ReceivedMessage:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes

    @property
    def parsed(self) -> EmailMessage:
        return BytesParser(policy=policy.default).parsebytes(self.content)  # type: ignore[return-value]


@dataclass
class RecordingHandler:
    """Accepts and records every message, unless told to answer a command with a reply line."""

    messages: list[ReceivedMessage] = field(default_factory=list)
    rcpt_reply: str | None = None
    data_reply: str | None = None
    delay_seconds: float = 0.0

    def answer(self, reply: str, *, at: Literal["rcpt", "data"] = "data") -> None:
        """From now on answer RCPT or DATA with ``reply``, e.g. ``"451 4.3.0 try later"``."""
        if at == "rcpt":
            self.rcpt_reply = reply
        else:
            self.data_reply = reply

    def accept(self) -> None:
        self.rcpt_reply = self.data_reply = None
        self.delay_seconds = 0.0

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if self.rcpt_reply is not None:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        if self.data_reply is not None:
            return self.data_reply
        self.messages.append(
            ReceivedMessage(
                mail_from=envelope.mail_from,
                rcpt_tos=list(envelope.rcpt_tos),
                content=bytes(envelope.original_content or envelope.content),
            )
        )
        return "250 Message accepted for delivery"

    async def wait_for(self, count: int = 1, timeout: float = 10.0) -> list[ReceivedMessage]:
        """The messages, once ``count`` have arrived: workers deliver asynchronously."""
        deadline = time.monotonic() + timeout
        while len(self.messages) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} message(s), got {len(self.messages)}")
            await asyncio.sleep(0.05)
        return list(self.messages)


@dataclass
class SmtpServer:
    host: str
    port: int
    handler: RecordingHandler

    @property
    def url(self) -> str:
        """An SMTP_URL pointing at this server."""
        return f"smtp://{self.host}:{self.port}"

    @property
    def messages(self) -> list[ReceivedMessage]:
        return self.handler.messages


@contextmanager
def running_smtp_server(
    handler: RecordingHandler | None = None,
    *,
    authenticator: Callable[..., Any] | None = None,
) -> Iterator[SmtpServer]:
    """A server on a free port of 127.0.0.1; with ``authenticator``, AUTH without TLS."""
    handler = handler or RecordingHandler()
    host, port = "127.0.0.1", free_port()
    extra: dict[str, Any] = {}
    if authenticator is not None:
        extra = {"authenticator": authenticator, "auth_require_tls": False}
    controller = Controller(handler, hostname=host, port=port, **extra)
    controller.start()
    try:
        yield SmtpServer(host=host, port=port, handler=handler)
    finally:
        controller.stop()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    with running_smtp_server() as server:
        yield server
