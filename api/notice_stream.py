"""Live notices over a WebSocket: ``/api/v1/notifications/live``.

Browsers cannot put an ``Authorization`` header on a WebSocket, and a token
never goes in a URL, so the client proves who it is in its first message:
``{"type": "auth", "token": "<access token>", "lastEventId": <n or null>}``.
The server then sends what the user missed after ``lastEventId`` (from the
store), and every new notice as it is announced, each as
``{"type": "<kind>", "eventId": n, "notice": {...}}``. Announcements come
over Redis pub/sub from whichever process made the notice (an API, a worker)
and carry only the event id: this connection reads the notice itself, as its
user. The socket closes when the access token expires (the client reconnects
with a fresh one and its last event id, losing nothing).

Close codes: 4400 a first message that is not an auth message, 4401 no or a
bad token (or too slow), 4403 a token that names no account or is scoped.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import jwt
import msgspec
import structlog
from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect

from api.controllers.notices import NoticeRead
from api.tokens import InvalidToken, read_token
from domain.notifications import notices
from domain.policies import user_uuid

log = structlog.get_logger(__name__)

AUTH_WAIT_SECONDS = 10.0
CATCH_UP_BATCH = 100


class AuthMessage(msgspec.Struct, frozen=True, rename="camel"):
    type: str
    token: str
    last_event_id: int | None = None


class LiveEvent(msgspec.Struct, frozen=True, rename="camel"):
    type: str
    event_id: int
    notice: NoticeRead


def _expiry(token: str) -> float | None:
    """When the (already verified) token expires, as a time.time() value."""
    try:
        exp = jwt.decode(token, options={"verify_signature": False}).get("exp")
    except jwt.InvalidTokenError:
        return None
    return float(exp) if isinstance(exp, int | float) else None


@websocket("/notifications/live", opt={"policy": "notice.live"})
async def live_notices(socket: WebSocket[Any, Any, Any]) -> None:
    await socket.accept()
    try:
        raw = await asyncio.wait_for(socket.receive_data(mode="text"), AUTH_WAIT_SECONDS)
    except TimeoutError:
        await socket.close(code=4401, reason="no auth message in time")
        return
    except WebSocketDisconnect:
        return
    try:
        hello = msgspec.json.decode(raw, type=AuthMessage)
    except (msgspec.DecodeError, msgspec.ValidationError):
        hello = None
    if hello is None or hello.type != "auth":
        await socket.close(code=4400, reason="send an auth message first")
        return
    try:
        principal = read_token(socket.app.state.settings.jwt_secret, hello.token)
    except InvalidToken:
        await socket.close(code=4401, reason="the token is not valid")
        return
    user_id = user_uuid(principal)
    if user_id is None or principal.scope is not None:
        await socket.close(code=4403, reason="this token opens no notices")
        return
    await _serve(socket, user_id, hello.last_event_id, _expiry(hello.token))


async def _serve(
    socket: WebSocket[Any, Any, Any],
    user_id: uuid.UUID,
    last_event_id: int | None,
    expires: float | None,
) -> None:
    cases = socket.app.state.use_cases
    live = socket.app.state.services.live
    sent = 0

    async def send_new() -> None:
        nonlocal sent
        while True:
            missed = await cases.run(notices.catch_up, user_id, sent, CATCH_UP_BATCH)
            for notice in missed:
                event = LiveEvent(
                    type=notice.kind.value, event_id=notice.seq, notice=NoticeRead.of(notice)
                )
                await socket.send_data(msgspec.json.encode(event).decode())
                sent = notice.seq
            if len(missed) < CATCH_UP_BATCH:
                return

    async def forward(announced: AsyncIterator[int]) -> None:
        async for _ in announced:
            await send_new()

    # Listen first, then read the store: nothing announced in between can be missed.
    async with live.listen(user_id) as announced:
        if last_event_id is None:  # a new client starts from now; GET lists what came before
            sent = await cases.run(notices.latest_event_id, user_id)
        else:
            sent = last_event_id
            await send_new()
        pump = asyncio.create_task(forward(announced))
        watch = asyncio.create_task(_until_closed(socket))
        timeout = None if expires is None else max(expires - time.time(), 0.0)
        done, pending = await asyncio.wait(
            {pump, watch}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        for task in pending:
            task.cancel()
        if watch in done:
            return  # the client left
        if pump in done and pump.exception() is not None:
            log.warning("notice_stream_failed", error_type=type(pump.exception()).__name__)
            code, reason = 1011, "the stream failed; reconnect with your last event id"
        else:
            code, reason = 4401, "the token expired; reconnect with a fresh one"
        with contextlib.suppress(Exception):
            await socket.close(code=code, reason=reason)


async def _until_closed(socket: WebSocket[Any, Any, Any]) -> None:
    """Read (and ignore) what the client sends until it goes."""
    try:
        while True:
            await socket.receive_data(mode="text")
    except WebSocketDisconnect:
        return
