"""A local OCR provider for the suite: a real HTTP server that takes a scan's pages as the
project's client sends them (domain/adapters/scans/provider.py), really reads them with the
embedded engine (RapidOCR) and really calls back ``POST /api/v1/webhooks/ocr`` signed as
Standard Webhooks (the ``standardwebhooks`` package), as an outside provider would.

It checks what a provider checks: ``Authorization: Bearer <token>`` (else 401), a
multipart/form-data body with a ``reference`` (a UUID) and one to ten ``page`` parts that
are PNG images (else 400). It answers 202 at once and reads and calls back from a thread of
its own. A reference it has answered is answered once (sent again, it is acknowledged and
not read twice).

Modes, for the tests (``mode``):
- ``answer``: read, sign with the shared secret, call back once (the default);
- ``silent``: accept and never call back (the timeout's test);
- ``bad_signature``: sign with another secret;
- ``stale``: sign a timestamp six minutes old;
- ``replay``: deliver the same webhook (same ``webhook-id``) twice;
- ``refuse``: answer 403 to every request (a provider refusing our token);
``unavailable(n, status)`` answers the next n requests 503 (or ``status``: 429) first, then
as the mode says.

What it did is kept for the tests: ``requests`` (references with their page counts) and
``callbacks`` (each callback's webhook id and the API's status code).
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import msgspec
from standardwebhooks.webhooks import Webhook

from domain.adapters.scans.embedded import read_page
from tests.support.http_stub import serve_posts, stop_serving
from tests.support.servers import free_port
from tests.support.webhooks import new_secret

TOKEN = "test-ocr-provider-token-" + "p" * 16
SECRET = new_secret(41)  # what the API's ocr provider is configured with
OTHER_SECRET = new_secret(42)  # a forger's
MAX_PAGES = 10
PNG = b"\x89PNG\r\n\x1a\n"


@dataclass
class Callback:
    reference: str
    webhook_id: str
    status: int


@dataclass
class OcrProviderServer:
    callback_url: str
    token: str = TOKEN
    secret: str = SECRET
    mode: str = "answer"
    port: int = field(default_factory=free_port)
    requests: list[tuple[str, int]] = field(default_factory=list)  # (reference, pages)
    callbacks: list[Callback] = field(default_factory=list)
    refused: list[int] = field(default_factory=list)  # statuses of requests refused
    _unavailable: list[int] = field(default_factory=list)
    _answered: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/read"

    def start(self) -> OcrProviderServer:
        self._server = serve_posts(self.port, self._serve)
        return self

    def stop(self) -> None:
        stop_serving(self._server)

    def unavailable(self, count: int, status: int = 503) -> None:
        with self._lock:
            self._unavailable += [status] * count

    # --- what a test may do by hand ---------------------------------------------------------

    def call_back(
        self, reference: str, event_type: str, data: dict[str, Any], mode: str | None = None
    ) -> list[Callback]:
        """Sign and deliver one event for ``reference`` as ``mode`` says (default: the
        server's); returns the deliveries made, with the API's answers."""
        body = msgspec.json.encode(
            {"type": event_type, "timestamp": datetime.now(UTC).isoformat(), "data": data}
        )
        mode = mode or self.mode
        webhook_id = f"msg_{uuid.uuid4().hex}"
        secret = OTHER_SECRET if mode == "bad_signature" else self.secret
        when = datetime.now(UTC) - (timedelta(minutes=6) if mode == "stale" else timedelta())
        headers = {
            "webhook-id": webhook_id,
            "webhook-timestamp": str(int(when.timestamp())),
            "webhook-signature": Webhook(secret).sign(webhook_id, when, body),
            "content-type": "application/json",
        }
        made = []
        for _ in range(2 if mode == "replay" else 1):
            response = httpx.post(self.callback_url, content=body, headers=headers, timeout=30)
            made.append(Callback(reference, webhook_id, response.status_code))
        with self._lock:
            self.callbacks += made
        return made

    # --- serving ----------------------------------------------------------------------------

    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        body = request.rfile.read(int(request.headers.get("Content-Length") or 0))
        with self._lock:
            down = self._unavailable.pop(0) if self._unavailable else None
        if down is not None:
            return self._refuse(request, down)
        if self.mode == "refuse" or request.headers.get("Authorization") != f"Bearer {self.token}":
            return self._refuse(request, 403 if self.mode == "refuse" else 401)
        try:
            reference, pages = _form(request.headers.get("Content-Type", ""), body)
        except ValueError:
            return self._refuse(request, 400)
        with self._lock:
            self.requests.append((reference, len(pages)))
            again = reference in self._answered
            self._answered.add(reference)
        _send(request, 202, b'{"accepted": true}')
        if not again and self.mode != "silent":
            threading.Thread(target=self._read_and_call_back, args=(reference, pages)).start()

    def _refuse(self, request: BaseHTTPRequestHandler, status: int) -> None:
        with self._lock:
            self.refused.append(status)
        _send(request, status, b'{"error": "refused"}')

    def _read_and_call_back(self, reference: str, pages: list[bytes]) -> None:
        lines = []
        for number, page in enumerate(pages):
            for line in read_page(page, number):
                lines.append(msgspec.to_builtins(line))
        self.call_back(reference, "ocr.completed", {"reference": reference, "lines": lines})


def _form(content_type: str, body: bytes) -> tuple[str, list[bytes]]:
    """The reference and the pages of a multipart/form-data body; ValueError otherwise."""
    if not content_type.startswith("multipart/form-data"):
        raise ValueError("not a form")
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    if not message.is_multipart():
        raise ValueError("not multipart")
    reference, pages = None, []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        content = part.get_payload(decode=True) or b""
        if name == "reference":
            reference = str(uuid.UUID(content.decode()))
        elif name == "page":
            if not content.startswith(PNG):
                raise ValueError("a page is not a PNG")
            pages.append(content)
    if reference is None or not 0 < len(pages) <= MAX_PAGES:
        raise ValueError("a reference and one to ten pages are needed")
    return reference, pages


def _send(request: BaseHTTPRequestHandler, status: int, body: bytes) -> None:
    request.send_response(status)
    request.send_header("Content-Type", "application/json")
    request.send_header("Content-Length", str(len(body)))
    request.end_headers()
    request.wfile.write(body)


@contextlib.contextmanager
def running_ocr_provider(callback_url: str, **options: Any) -> Iterator[OcrProviderServer]:
    server = OcrProviderServer(callback_url=callback_url, **options).start()
    try:
        yield server
    finally:
        server.stop()


def wait_for_callbacks(server: OcrProviderServer, count: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(server.callbacks) >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"the provider made {len(server.callbacks)} callbacks, not {count}")
