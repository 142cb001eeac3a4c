"""The IPFS node adapter when the node is down, slow, flaky or configured otherwise.

A node that is down is a port where nothing listens. The other faults come from a
small proxy in front of the real node (js-ipfs): it forwards every call, and does
to chosen ones what a misbehaving node or network would — answer 503, never
answer, drop the connection mid-stream, end a stream early, or import with
other settings (what a Kubo node does with CIDv0 defaults). The node behind it
is real; only the fault is staged.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from domain.adapters.files.ipfs_node import KuboContentStore
from domain.adapters.files.unixfs import CHUNK_SIZE, cid_of_bytes
from domain.errors import ContentUnavailable, PermanentFailure
from tests.support.ipfs_node import payload, pieces, read_all


class FaultyProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.calls: Counter[str] = Counter()
        self.busy_first: dict[str, int] = {}  # path → answer 503 to that many first calls
        self.hang: set[str] = set()  # paths never answered
        self.add_params: dict[str, str] = {}  # forced onto every add
        self.drop_cat_after: int | None = None  # the first cat: connection dropped after N bytes
        self.end_cat_after: int | None = None  # every cat: body ends (cleanly) after N bytes
        self._released = asyncio.Event()  # set on stop: hung calls end
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> str:
        app = web.Application(client_max_size=1 << 30)
        app.router.add_route("POST", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._session = aiohttp.ClientSession()
        port = self._runner.addresses[0][1]
        return f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        self._released.set()
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        path = request.path.removeprefix("/api/v0/")
        self.calls[path] += 1
        if path in self.hang:
            await self._released.wait()
        if path in self.hang or self.calls[path] <= self.busy_first.get(path, 0):
            return web.Response(status=503, text="<html>busy</html>", content_type="text/html")
        params = dict(request.query)
        if path == "add":
            params.update(self.add_params)
        body = await request.read()
        headers = {"Content-Type": request.headers.get("Content-Type", "application/octet-stream")}
        async with self._session.post(
            self.upstream + request.path, params=params, data=body, headers=headers
        ) as upstream:
            response = web.StreamResponse(status=upstream.status)
            response.content_type = upstream.content_type
            await response.prepare(request)
            limit = self._cat_limit(path)
            sent = 0
            async for piece in upstream.content.iter_chunked(65_536):
                if limit is not None and sent + len(piece) > limit:
                    await response.write(piece[: limit - sent])
                    if path == "cat" and self.drop_cat_after is not None and self.calls[path] == 1:
                        assert request.transport is not None
                        request.transport.abort()  # the connection breaks mid-stream
                        return response
                    break
                await response.write(piece)
                sent += len(piece)
            await response.write_eof()
            return response

    def _cat_limit(self, path: str) -> int | None:
        if path != "cat":
            return None
        if self.drop_cat_after is not None and self.calls[path] == 1:
            return self.drop_cat_after
        return self.end_cat_after


@pytest.fixture
async def proxy(ipfs_api_url: str) -> AsyncIterator[FaultyProxy]:
    staged = FaultyProxy(ipfs_api_url)
    try:
        yield staged
    finally:
        await staged.stop()


async def test_a_node_that_is_down_is_unavailable(dead_ipfs_url: str) -> None:
    store = KuboContentStore(dead_ipfs_url, timeout_seconds=2.0)
    try:
        with pytest.raises(ContentUnavailable):
            await store.ping()
        with pytest.raises(ContentUnavailable):
            await store.add(pieces(payload(1_000)))
        with pytest.raises(ContentUnavailable):
            await read_all(store.cat(cid_of_bytes(b"anything")))
        with pytest.raises(ContentUnavailable):
            await store.unpin(cid_of_bytes(b"anything"))
    finally:
        await store.close()


async def test_a_node_that_never_answers_times_out(proxy: FaultyProxy) -> None:
    proxy.hang.add("id")
    store = KuboContentStore(await proxy.start(), timeout_seconds=0.3)
    try:
        with pytest.raises(ContentUnavailable):
            await store.ping()
        assert proxy.calls["id"] == 3  # tried, then retried twice
    finally:
        await store.close()


async def test_a_busy_answer_is_retried(proxy: FaultyProxy) -> None:
    proxy.busy_first = {"id": 2, "pin/ls": 1, "pin/rm": 1}
    store = KuboContentStore(await proxy.start(), timeout_seconds=10.0)
    try:
        await store.ping()
        data = payload(5_000, seed=b"busy")
        cid = await store.add(pieces(data))
        assert await read_all(store.cat(cid)) == data
        await store.unpin(cid)
        assert proxy.calls["id"] == 3 and proxy.calls["pin/ls"] == 2
    finally:
        await store.close()


async def test_an_add_whose_bytes_were_sent_is_not_replayed(proxy: FaultyProxy) -> None:
    proxy.busy_first = {"add": 1}
    store = KuboContentStore(await proxy.start(), timeout_seconds=10.0)
    try:
        with pytest.raises(ContentUnavailable):
            await store.add(pieces(payload(5_000, seed=b"sent once")))
        assert proxy.calls["add"] == 1  # the job level retries, with the bytes read afresh
    finally:
        await store.close()


async def test_a_node_that_makes_other_cids_is_refused(proxy: FaultyProxy) -> None:
    # what a node importing with Kubo's old defaults answers
    proxy.add_params = {"cid-version": "0", "raw-leaves": "false", "cid-base": "base58btc"}
    store = KuboContentStore(await proxy.start(), timeout_seconds=10.0)
    try:
        with pytest.raises(PermanentFailure) as raised:
            await store.add(pieces(payload(300_000, seed=b"other layout")))
        assert raised.value.code == "content_layout_mismatch"
    finally:
        await store.close()


async def test_cat_resumes_where_a_dropped_connection_left_off(
    proxy: FaultyProxy, kubo_store: KuboContentStore
) -> None:
    data = payload(3 * CHUNK_SIZE + 500, seed=b"resume")
    cid = await kubo_store.add(pieces(data))
    proxy.drop_cat_after = CHUNK_SIZE + 1_234
    store = KuboContentStore(await proxy.start(), timeout_seconds=10.0)
    try:
        assert await read_all(store.cat(cid)) == data
        assert proxy.calls["cat"] == 2
    finally:
        await store.close()


async def test_a_stream_that_ends_early_is_not_taken_for_the_content(
    proxy: FaultyProxy, kubo_store: KuboContentStore
) -> None:
    data = payload(2 * CHUNK_SIZE, seed=b"short")
    cid = await kubo_store.add(pieces(data))
    proxy.end_cat_after = CHUNK_SIZE  # as when the node reports an error in a trailer
    store = KuboContentStore(await proxy.start(), timeout_seconds=10.0)
    try:
        with pytest.raises(ContentUnavailable) as raised:
            await read_all(store.cat(cid))
        assert raised.value.code == "content_corrupt"
    finally:
        await store.close()


async def test_an_add_the_node_never_answers_times_out(proxy: FaultyProxy) -> None:
    proxy.hang.add("add")
    store = KuboContentStore(await proxy.start(), timeout_seconds=0.5)
    try:
        with pytest.raises(ContentUnavailable):
            await store.add(pieces(payload(5_000, seed=b"no answer")))
    finally:
        await store.close()


async def test_a_slow_but_moving_upload_is_not_cut_by_the_timeout(ipfs_api_url: str) -> None:
    data = payload(5 * 100_000, seed=b"slow source")

    async def slow() -> AsyncIterator[bytes]:
        async for piece in pieces(data):
            await asyncio.sleep(0.3)  # each piece well within the timeout, all of them not
            yield piece

    store = KuboContentStore(ipfs_api_url, timeout_seconds=1.0)
    try:
        assert await store.add(slow()) == cid_of_bytes(data)
    finally:
        await store.close()
