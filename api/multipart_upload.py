"""Streaming multipart/form-data for uploads: the file part goes to a sink as it arrives.

Litestar's own form parsing buffers the whole body; an upload of 10 MB must
not sit in memory twice, so upload routes read ``request.stream()`` through
the sans-IO ``multipart.PushMultipartParser`` instead. Text fields are small
and kept; the one file part is handed to ``sink`` piece by piece, which may
refuse it (size, type) by raising, and then nothing more is read.

A Content-Length that already says "too big" is refused before a byte is read.
The whole body must arrive within UPLOAD_DEADLINE_SECONDS (408 otherwise): an
upload holds a pooled database connection and its transaction while it streams
in, and a client that trickles its bytes must not hold them for long. At most
half the pool's connections serve uploads at once (503 beyond that, after a
wait of SLOT_WAIT_SECONDS), so slow uploads cannot starve the rest of the API.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

from litestar import Request
from multipart import MultipartSegment, ParserError, PushMultipartParser, parse_options_header

from domain.errors import (
    BadRequest,
    PayloadTooLarge,
    RequestTimeout,
    TransientFailure,
    UnsupportedMediaType,
)
from domain.files.uploads import FileSink, ReceivedForm, ReceiveForm

FILE_FIELD = "file"
MAX_FIELD_BYTES = 16 * 1024
MAX_PARTS = 16
# Room for the form's headers and text fields around a file at its limit.
ENVELOPE_BYTES = 64 * 1024


# How long an upload may wait for a free slot before it is turned away (503).
SLOT_WAIT_SECONDS = 1.0
_SLOTS_STATE_KEY = "upload_slots"


@asynccontextmanager
async def upload_slot(request: Request[Any, Any, Any]) -> AsyncIterator[None]:
    """One of the process's upload slots, for the length of an upload; 503 if none frees up."""
    state = request.app.state
    slots: asyncio.Semaphore | None = state.get(_SLOTS_STATE_KEY)
    if slots is None:
        slots = asyncio.Semaphore(max(1, state.settings.db_pool_max_size // 2))
        state[_SLOTS_STATE_KEY] = slots
    try:
        await asyncio.wait_for(slots.acquire(), SLOT_WAIT_SECONDS)
    except TimeoutError:
        raise TransientFailure(
            "too many uploads are in progress; try again shortly", code="uploads_busy"
        ) from None
    try:
        yield
    finally:
        slots.release()


def body_limit(file_limit: int) -> int:
    """The most a whole request may carry for a file of at most ``file_limit`` bytes."""
    return file_limit + ENVELOPE_BYTES


def _boundary(request: Request) -> str:
    kind, options = parse_options_header(request.headers.get("content-type", ""))
    if kind != "multipart/form-data" or not options.get("boundary"):
        raise UnsupportedMediaType("send the upload as multipart/form-data")
    return options["boundary"]


def _check_declared_length(request: Request, file_limit: int) -> int:
    declared = request.headers.get("content-length")
    if declared is None:
        return -1
    try:
        length = int(declared)
    except ValueError:
        raise BadRequest("Content-Length is not a number") from None
    if length > body_limit(file_limit):
        megabytes = file_limit / (1024 * 1024)
        raise PayloadTooLarge(f"the file is larger than {megabytes:g} MB")
    return length


class _FormBuilder:
    def __init__(self, sink: FileSink, names: frozenset[str]) -> None:
        self._sink = sink
        self._names = names
        self.fields: dict[str, str] = {}
        self.filename: str | None = None
        self.file_seen = False
        self._segment: MultipartSegment | None = None
        self._text = bytearray()

    async def take(self, event: MultipartSegment | bytes | None) -> None:
        if isinstance(event, MultipartSegment):
            self._start(event)
        elif event is None:
            self._end()
        elif self._is_file():
            await self._sink(event)
        else:
            self._text += event
            if len(self._text) > MAX_FIELD_BYTES:
                raise BadRequest("a form field is too long")

    def _is_file(self) -> bool:
        return self._segment is not None and self._segment.name == FILE_FIELD

    def _start(self, segment: MultipartSegment) -> None:
        self._segment = segment
        self._text = bytearray()
        if segment.name == FILE_FIELD:
            if self.file_seen:
                raise BadRequest("send exactly one file")
            self.file_seen = True
            self.filename = segment.filename
        elif segment.name not in self._names:
            raise BadRequest("the form has a field this upload does not take")
        elif segment.name in self.fields:
            raise BadRequest("each form field may appear once")

    def _end(self) -> None:
        segment, self._segment = self._segment, None
        if segment is None or segment.name == FILE_FIELD:
            return
        try:
            self.fields[segment.name] = self._text.decode()
        except UnicodeDecodeError:
            raise BadRequest("a form field is not UTF-8 text") from None


def form_receiver(request: Request, *, file_limit: int, names: Iterable[str]) -> ReceiveForm:
    """The request's form as the domain's upload functions read it: the file and the text
    fields ``names`` (any other field is a 400, as the published form schema says)."""

    async def receive(sink: FileSink) -> ReceivedForm:
        return await receive_upload(request, sink, file_limit=file_limit, names=names)

    return receive


async def receive_upload(
    request: Request, sink: FileSink, *, file_limit: int, names: Iterable[str]
) -> ReceivedForm:
    """Read the form, streaming its ``file`` part to ``sink``; raises BadRequest without one,
    or with a text field not in ``names``."""
    boundary = _boundary(request)
    length = _check_declared_length(request, file_limit)
    builder = _FormBuilder(sink, frozenset(names))
    deadline = request.app.state.settings.upload_deadline_seconds
    try:
        async with asyncio.timeout(deadline):
            with PushMultipartParser(
                boundary, content_length=length, max_segment_count=MAX_PARTS, strict=True
            ) as parser:
                async for chunk in request.stream():
                    if not chunk:
                        continue
                    for event in parser.parse(chunk):
                        await builder.take(event)
                for event in parser.parse(b""):
                    await builder.take(event)
    except ParserError:
        raise BadRequest("the multipart body is malformed or incomplete") from None
    except TimeoutError:
        raise RequestTimeout(f"the upload did not arrive within {deadline:g} seconds") from None
    if not builder.file_seen:
        raise BadRequest("no file: send it as the form field 'file'")
    return ReceivedForm(fields=builder.fields, filename=builder.filename)
