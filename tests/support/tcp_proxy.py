"""A TCP forwarder to a real server that a test can cut: the server "goes away" mid-life.

It runs its own event loop on a thread, so it keeps forwarding whichever loop
(or thread) the code under test uses. ``cut()`` stops listening and aborts
every open connection: clients see their connections drop and new ones
refused, as when the server's host dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable, Iterator
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

Connect = Callable[[], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


class TcpProxy:
    def __init__(self, connect: Connect) -> None:
        self._connect = connect
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    def start(self) -> int:
        self._thread.start()
        self._server = self._call(asyncio.start_server(self._forward, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    def cut(self) -> None:
        self._call(self._cut())

    def drop_connections(self) -> None:
        """Abort every open connection but keep listening: what clients see of a server
        restarted while their connections sat idle (dead ones, and new ones that work)."""
        self._call(self._drop_connections())

    def stop(self) -> None:
        if self._thread.is_alive():
            self.cut()
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)

    def _call(self, coroutine):  # type: ignore[no-untyped-def]
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    async def _cut(self) -> None:
        if self._server is not None:
            self._server.close()
        await self._drop_connections()

    async def _drop_connections(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await self._connect()
        except OSError:
            writer.transport.abort()
            return
        self._writers.update({writer, server_w})
        await asyncio.gather(_pipe(reader, server_w), _pipe(server_r, writer))


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, asyncio.IncompleteReadError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.transport.abort()


def _postgres_connect(database_url: str) -> Connect:
    """How to reach the server a postgresql:// URL names: TCP, or its unix socket (host=/dir)."""
    parts = urlsplit(database_url)
    socket_dir = parse_qs(parts.query).get("host", [""])[0]
    port = parts.port or 5432
    if socket_dir.startswith("/"):
        return lambda: asyncio.open_unix_connection(f"{socket_dir}/.s.PGSQL.{port}")
    host = parts.hostname or "127.0.0.1"
    return lambda: asyncio.open_connection(host, port)


@contextlib.contextmanager
def postgres_behind_proxy(database_url: str) -> Iterator[tuple[TcpProxy, str]]:
    """A proxy to the database's server, and the same URL pointed at the proxy."""
    proxy = TcpProxy(_postgres_connect(database_url))
    port = proxy.start()
    parts = urlsplit(database_url)
    query = {k: v for k, v in parse_qs(parts.query).items() if k != "host"}
    userinfo, at, _ = parts.netloc.rpartition("@")
    proxied = parts._replace(
        netloc=f"{userinfo}{at}127.0.0.1:{port}", query=urlencode(query, doseq=True)
    )
    try:
        yield proxy, urlunsplit(proxied)
    finally:
        proxy.stop()
