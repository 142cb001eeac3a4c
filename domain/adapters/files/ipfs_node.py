"""The content store on an IPFS node that serves the Kubo RPC API (Kubo, or js-ipfs in tests).

Why the node's CID is checked: a record's CID is promised to be the one any
store gives the same bytes (``domain.adapters.files.unixfs``). A node whose import
settings differ (a 1 MiB chunker, 1024 links per node, another hash) would
mint other CIDs for the same bytes, so ``add`` computes the CID itself as the
bytes stream past and refuses (PermanentFailure) when the node disagrees.
The add parameters also name the layout explicitly, so a node's config
defaults cannot change it where the API lets a request choose.

Presence means "pinned here": ``cat`` first asks the node whether the CID is
pinned (a node asked to cat a CID it lacks searches the network until the
call times out, so it never says "missing" by itself), and ``unpin`` is what
makes content go away. Bytes from ``cat`` are checked against the CID as
they pass: the RPC API reports an error met mid-stream only in an HTTP
trailer, so a cut-short body would otherwise look complete.

Errors: refused connections, timeouts and 5xx answers are retried a few
times within about a second, then raise ContentUnavailable. An ``add`` is
retried only while none of its bytes has been taken from the caller's
stream (a stream cannot be read twice); after that, the job level retries.
A ``cat`` that breaks mid-stream resumes at the offset it had reached.
No error carries the node's own text.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aiohttp
import aioipfs
from aiohttp import payload
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

from domain.adapters.files.unixfs import CHUNK_SIZE, UnixFsImporter, normalize_cid
from domain.errors import ContentMissing, ContentUnavailable, PermanentFailure
from domain.setting_values import SettingsError, http_url_problem, refusal

T = TypeVar("T")

ATTEMPTS = 3
# What ``add`` asks for; cid-version=1 alone implies the rest on a default Kubo, but a
# node's Import.* config can change defaults, and explicit parameters win over them.
ADD_PARAMS = {
    "cid-version": "1",
    "raw-leaves": "true",
    "chunker": f"size-{CHUNK_SIZE}",
    "hash": "sha2-256",
    "trickle": "false",
    "pin": "true",
    "cid-base": "base32",
}
_MISSING_WORDS = ("not found", "could not find", "does not exist", "no link named")


class _NoAnswer(Exception):
    """aioipfs returns None instead of raising when a connection fails; this names that."""


# Everything the node or the way to it can raise (aioipfs, aiohttp, timeouts).
_NODE_ERRORS = (
    aioipfs.APIError,
    aioipfs.IPFSConnectionError,
    aiohttp.ClientError,
    TimeoutError,
    _NoAnswer,
)


class _Upload:
    """One add's stream of bytes: fed to our importer as it goes to the node."""

    def __init__(self, source: AsyncIterable[bytes], on_progress: Callable[[], None]) -> None:
        self.source = source
        self.importer = UnixFsImporter(blocks=False)
        self.started = False  # bytes taken from the source: the add can no longer be replayed
        self.source_error: BaseException | None = None
        self._on_progress = on_progress

    async def body(self) -> AsyncIterator[bytes]:
        self.started = True
        chunks = aiter(self.source)
        while True:
            try:
                chunk = await anext(chunks)
            except StopAsyncIteration:
                return
            except Exception as error:  # the caller's source, not the node: re-raised as is
                self.source_error = error
                raise
            self._on_progress()
            if chunk:  # an empty write would end a chunked body early
                self.importer.feed(chunk)
                yield chunk


def _retryable(error: BaseException) -> bool:
    if isinstance(error, aioipfs.APIError):
        return isinstance(error, aioipfs.UnknownAPIError) or error.http_status >= 500
    if isinstance(error, aiohttp.ClientResponseError):
        return error.status >= 500
    return isinstance(
        error,
        TimeoutError
        | aiohttp.ClientConnectionError
        | aiohttp.ClientPayloadError
        | aioipfs.IPFSConnectionError
        | _NoAnswer,
    )


def _says_missing(error: BaseException) -> bool:
    if isinstance(error, aioipfs.EndpointNotFoundError):  # a wrong URL, not a missing CID
        return False
    message = getattr(error, "message", "")
    return isinstance(message, str) and any(w in message.lower() for w in _MISSING_WORDS)


def _unavailable() -> ContentUnavailable:
    return ContentUnavailable("the IPFS node did not answer", code="content_store_unavailable")


class KuboContentStore:
    """ContentStore over a Kubo RPC API at ``api_url`` (e.g. http://127.0.0.1:5001)."""

    def __init__(self, api_url: str, *, timeout_seconds: float = 30.0) -> None:
        problem = http_url_problem(api_url)
        if problem is not None:
            raise SettingsError(refusal("IPFS_API_URL", f"be {problem}", api_url))
        parts = urlsplit(api_url)
        assert parts.hostname is not None  # http_url_problem found a host
        self._host = parts.hostname
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._scheme = parts.scheme
        self._timeout = timeout_seconds
        self._client: aioipfs.AsyncIPFS | None = None  # made on first use, on the running loop

    # --- the port ---------------------------------------------------------------

    async def add(self, chunks: AsyncIterable[bytes]) -> str:
        loop = asyncio.get_running_loop()
        deadline: asyncio.Timeout | None = None

        def progress() -> None:  # each chunk handed over restarts the clock
            if deadline is not None:
                with contextlib.suppress(RuntimeError):  # the attempt is already over
                    deadline.reschedule(loop.time() + self._timeout)

        upload = _Upload(chunks, progress)

        async def once() -> str:
            nonlocal deadline
            async with asyncio.timeout(self._timeout) as deadline:
                return await self._add_once(upload)

        try:
            answer = await self._with_retries(once, replayable=lambda: not upload.started)
        except BaseException:
            if upload.source_error is not None:
                raise upload.source_error from None
            raise
        ours, _ = upload.importer.finish()
        if answer != ours:
            raise PermanentFailure(
                "the IPFS node chunks files differently from this platform (its CID differs); "
                "check its import settings",
                code="content_layout_mismatch",
            )
        return ours

    async def cat(self, cid: str) -> AsyncIterator[bytes]:
        key = _key(cid)
        await self._with_retries(lambda: self._require_pinned(key))
        check = UnixFsImporter(blocks=False)
        offset, failures = 0, 0
        while True:
            try:
                async for piece in self._cat_from(key, offset):
                    offset += len(piece)
                    failures = 0
                    check.feed(piece)
                    yield piece
                break
            except _NODE_ERRORS as error:
                if _says_missing(error):
                    raise ContentMissing("no content under that CID") from None
                failures += 1
                if not _retryable(error) or failures >= ATTEMPTS:
                    raise _unavailable() from None
                await asyncio.sleep(0.1 * 2**failures)
        if check.finish()[0] != key:
            raise ContentUnavailable(
                "the IPFS node sent bytes that do not match the CID", code="content_corrupt"
            )

    async def unpin(self, cid: str) -> None:
        try:
            key = normalize_cid(cid)
        except ValueError:
            return  # nothing can be pinned under text that is not a CID

        async def once() -> None:
            try:
                await self._answer(self._api().pin.rm(key))
            except aioipfs.APIError as error:
                if "not pinned" not in (error.message or "").lower():
                    raise

        await self._with_retries(once)

    async def ping(self) -> None:
        await self._with_retries(lambda: self._answer(self._api().core.id()))

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.close()

    # --- one attempt each ------------------------------------------------------------

    async def _add_once(self, upload: _Upload) -> str:
        writer = aiohttp.MultipartWriter("form-data")
        part = payload.AsyncIterablePayload(upload.body(), content_type="application/octet-stream")
        part.set_content_disposition("form-data", name="file", filename="")
        writer.append_payload(part)
        cid: str | None = None
        try:
            async for message in self._api().core.add_generic(writer, params=dict(ADD_PARAMS)):
                if isinstance(message, dict) and isinstance(message.get("Hash"), str):
                    cid = message["Hash"]
        except json.JSONDecodeError:  # not the RPC API talking (a proxy's error page)
            raise _NoAnswer("the node's add answer was not JSON") from None
        if cid is None:
            raise _NoAnswer("the node's add answer named no CID")
        try:
            return normalize_cid(cid)
        except ValueError:
            raise _NoAnswer("the node's add answer named no CID") from None

    async def _require_pinned(self, key: str) -> None:
        try:
            pins = self._api().pin
            # offline: a Kubo node answers from its pin set without looking the CID up
            params = {"arg": key, "type": "recursive", "offline": "true"}
            await self._answer(pins.fetch_json(pins.url("pin/ls"), params=params))
        except aioipfs.APIError as error:
            if "not pinned" in (error.message or "").lower() or _says_missing(error):
                raise ContentMissing("no content under that CID") from None
            raise

    async def _cat_from(self, key: str, offset: int) -> AsyncIterator[bytes]:
        api = self._api()
        # offline: a Kubo node must not search the network (js-ipfs ignores the flag)
        params: dict[str, Any] = {"arg": key, "offline": "true"}
        if offset:
            params["offset"] = offset
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self._timeout, sock_read=self._timeout
        )
        async with api.session.post(
            api.core.url("cat"), params=params, auth=api.auth, timeout=timeout
        ) as response:
            if response.status >= 400:
                text = await response.text()
                if response.status >= 500 and api.core.decode_error(text)[0] is None:
                    raise aiohttp.ClientResponseError(
                        response.request_info, (), status=response.status
                    )
                api.core.handle_error(response, text)  # raises aioipfs.APIError
            async for piece in response.content.iter_chunked(CHUNK_SIZE):
                yield piece

    # --- plumbing --------------------------------------------------------------------

    def _api(self) -> aioipfs.AsyncIPFS:
        if self._client is None:
            self._client = aioipfs.AsyncIPFS(host=self._host, port=self._port, scheme=self._scheme)
        return self._client

    async def _answer(self, call: Awaitable[T]) -> T:
        async with asyncio.timeout(self._timeout):
            result = await call
        if result is None:
            raise _NoAnswer("no answer from the node")
        return result

    async def _with_retries(
        self, operation: Callable[[], Awaitable[T]], replayable: Callable[[], bool] = lambda: True
    ) -> T:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(ATTEMPTS),
            wait=wait_exponential(multiplier=0.1, max=1.0),
            retry=retry_if_exception(lambda e: _retryable(e) and replayable()),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await operation()
        except (ContentMissing, PermanentFailure):
            raise
        except _NODE_ERRORS:
            raise _unavailable() from None
        raise AssertionError("unreachable: tenacity either returns or raises")


def _key(cid: str) -> str:
    try:
        return normalize_cid(cid)
    except ValueError:
        raise ContentMissing("no content under that CID") from None
