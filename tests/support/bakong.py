"""A local Bakong Open API for the suite and the benchmark: it checks what the real one checks
and answers as it answers, so the project's own client (domain/adapters/payments/bakong.py)
is the code under test.

- ``Authorization: Bearer <token>`` must be the token it was started with: else HTTP 401
  ``{"responseCode": 1, "errorCode": 6, "responseMessage": "Unauthorized"}``;
- ``POST /v1/check_transaction_by_md5`` takes ``{"md5": "<32 lower-case hex>"}``,
  ``POST /v1/check_transaction_by_md5_list`` a JSON array of 1 to 50 such MD5s; anything
  else is HTTP 400 with ``errorCode`` 5 (missing or malformed fields);
- a paid code answers ``responseCode`` 0 with the transaction (``hash``, ``fromAccountId``,
  ``toAccountId``, ``currency``, ``amount`` as a JSON number, ``createdDateMs``,
  ``acknowledgedDateMs``); an unpaid one ``responseCode`` 1, ``errorCode`` 1, ``data`` null;
  a list answers one ``{"md5", "status": "SUCCESS" | "NOT_FOUND", "data"}`` per MD5 asked;
- as the real API does for callers outside Cambodia, ``outside_cambodia`` makes every call
  HTTP 403 (an HTML page); ``fail_next(n, status)`` answers the next n calls with a 5xx;
  ``delay`` slows every answer.

Tests "pay" a code with ``pay(code, ...)``: by default the amount and currency the code
itself carries (read here from its tags, not with the project's decoder).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.http_stub import serve_posts, stop_serving
from tests.support.servers import free_port

ONE = "/v1/check_transaction_by_md5"
MANY = "/v1/check_transaction_by_md5_list"
DEEPLINK = "/v1/generate_deeplink_by_qr"
SOURCE_FIELDS = {"appName", "appIconUrl", "appDeepLinkCallback"}
MD5 = re.compile(r"^[0-9a-f]{32}$")
CURRENCIES = {"840": "USD", "116": "KHR"}
TOKEN = "test-bakong-token-" + "t" * 24


def tags(code: str) -> dict[str, str]:
    found, at = {}, 0
    while at + 4 <= len(code):
        length = int(code[at + 2 : at + 4])
        found[code[at : at + 2]] = code[at + 4 : at + 4 + length]
        at += 4 + length
    return found


@dataclass
class BakongServer:
    token: str = TOKEN
    port: int = field(default_factory=free_port)
    delay: float = 0.0
    outside_cambodia: bool = False
    paid: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=lambda: {ONE: 0, MANY: 0, DEEPLINK: 0})
    asked: list[str] = field(default_factory=list)
    _failures: list[int] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> BakongServer:
        self._server = serve_posts(self.port, self._serve)
        return self

    def stop(self) -> None:
        stop_serving(self._server)

    # --- what tests do -------------------------------------------------------------------------

    def pay(
        self,
        code: str,
        *,
        amount: str | None = None,
        currency: str | None = None,
        paid_at_ms: int | None = None,
        tx_hash: str | None = None,
    ) -> dict[str, Any]:
        """Record ``code`` as paid (by default exactly as it asks); returns the transaction."""
        fields = tags(code)
        now_ms = int(time.time() * 1000)
        transaction = {
            "hash": tx_hash or hashlib.sha256(uuid.uuid4().bytes).hexdigest(),
            "fromAccountId": "payer@abaa",
            "toAccountId": tags(fields["29"])["00"],
            "currency": currency or CURRENCIES[fields["53"]],
            "amount": Decimal(amount if amount is not None else fields["54"]),
            "description": None,
            "createdDateMs": now_ms,
            "acknowledgedDateMs": paid_at_ms or now_ms,
        }
        with self._lock:
            self.paid[md5_of(code)] = transaction
        return transaction

    def fail_next(self, count: int, status: int = 503) -> None:
        with self._lock:
            self._failures.extend([status] * count)

    # --- serving -------------------------------------------------------------------------------

    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        body = request.rfile.read(int(request.headers.get("Content-Length") or 0))
        if self.delay:
            time.sleep(self.delay)
        with self._lock:
            failure = self._failures.pop(0) if self._failures else None
        if self.outside_cambodia:
            return _send(request, 403, b"<html><body>403 Forbidden</body></html>", "text/html")
        if failure is not None:
            return _send(request, failure, b"<html>upstream unavailable</html>", "text/html")
        if request.path not in (ONE, MANY, DEEPLINK):
            return _reply(request, 404, {"responseCode": 1, "errorCode": None, "data": None})
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return _reply(request, 401, _error(6, "Unauthorized"))
        try:
            asked = json.loads(body)
        except ValueError:
            return _reply(request, 400, _error(5, "Missing required fields"))
        with self._lock:
            self.calls[request.path] += 1
        if request.path == ONE:
            return self._one(request, asked)
        if request.path == DEEPLINK:
            return self._deeplink(request, asked)
        return self._many(request, asked)

    def _one(self, request: BaseHTTPRequestHandler, asked: Any) -> None:
        md5 = asked.get("md5") if isinstance(asked, dict) else None
        if not (isinstance(md5, str) and MD5.match(md5)) or set(asked) != {"md5"}:
            return _reply(request, 400, _error(5, "Missing required fields"))
        self.asked.append(md5)
        found = self.paid.get(md5)
        if found is None:
            return _reply(request, 200, _error(1, "Transaction could not be found."))
        return _reply(
            request,
            200,
            {
                "responseCode": 0,
                "responseMessage": "Getting transaction successfully.",
                "errorCode": None,
                "data": found,
            },
        )

    def _deeplink(self, request: BaseHTTPRequestHandler, asked: Any) -> None:
        """A short link for a code whose CRC holds, with the app's whole ``sourceInfo``."""
        qr = asked.get("qr") if isinstance(asked, dict) else None
        source = asked.get("sourceInfo") if isinstance(asked, dict) else None
        if not (isinstance(qr, str) and _crc_holds(qr)):
            return _reply(request, 400, _error(5, "Missing required fields"))
        if not (isinstance(source, dict) and set(source) == SOURCE_FIELDS and all(source.values())):
            return _reply(request, 400, _error(5, "Missing required fields"))
        link = f"https://bakong.page.link/{md5_of(qr)[:12]}"
        return _reply(
            request,
            200,
            {
                "responseCode": 0,
                "responseMessage": "Success",
                "errorCode": None,
                "data": {"shortLink": link},
            },
        )

    def _many(self, request: BaseHTTPRequestHandler, asked: Any) -> None:
        if not (
            isinstance(asked, list)
            and 0 < len(asked) <= 50
            and all(isinstance(md5, str) and MD5.match(md5) for md5 in asked)
        ):
            return _reply(request, 400, _error(5, "Missing required fields"))
        self.asked.extend(asked)
        data = [
            {"md5": md5, "status": "SUCCESS", "message": None, "data": self.paid[md5]}
            if md5 in self.paid
            else {
                "md5": md5,
                "status": "NOT_FOUND",
                "message": "Transaction could not be found.",
                "data": None,
            }
            for md5 in asked
        ]
        return _reply(
            request,
            200,
            {
                "responseCode": 0,
                "responseMessage": "Getting transaction successfully.",
                "errorCode": None,
                "data": data,
            },
        )


def _crc_holds(code: str) -> bool:
    """CRC-16/CCITT-FALSE over all but the last 4 characters (which must be ``6304`` + it)."""
    crc = 0xFFFF
    for byte in code[:-4].encode():
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return code[-8:-4] == "6304" and f"{crc:04X}" == code[-4:]


def md5_of(code: str) -> str:
    return hashlib.md5(code.encode()).hexdigest()


def _error(code: int, message: str) -> dict[str, Any]:
    return {"responseCode": 1, "responseMessage": message, "errorCode": code, "data": None}


_NUMBER = "@number:"
_NUMBER_TEXT = re.compile(r'"@number:([0-9.]+)"')


def _reply(request: BaseHTTPRequestHandler, status: int, answer: dict[str, Any]) -> None:
    # Decimals as JSON numbers written exactly (the real API sends numbers, not strings)
    text = _NUMBER_TEXT.sub(r"\1", json.dumps(_exact(answer)))
    _send(request, status, text.encode(), "application/json")


def _exact(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{_NUMBER}{value}"
    if isinstance(value, dict):
        return {k: _exact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_exact(v) for v in value]
    return value


def _send(request: BaseHTTPRequestHandler, status: int, body: bytes, media_type: str) -> None:
    request.send_response(status)
    request.send_header("Content-Type", media_type)
    request.send_header("Content-Length", str(len(body)))
    request.end_headers()
    request.wfile.write(body)


@contextlib.contextmanager
def running_bakong(**options: Any) -> Iterator[BakongServer]:
    server = BakongServer(**options).start()
    try:
        yield server
    finally:
        server.stop()
