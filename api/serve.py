"""``python -m api.serve``: the API as the Procfile's ``web`` line runs it, on N processes that
share the load.

uvicorn's ``--workers N`` hands one listening socket to every process. Whichever
process's loop wakes first accepts every connection waiting (asyncio accepts up to the
backlog per wake-up), so clients that keep their connections open (a proxy's pool, a
mobile app, a load test) can all land on one process while the others sit idle: measured
with ``bench.api_latency``, 16 keep-alive connections put all of the commands on one of
two processes (0.98 of a core, the other 0.00).

Here each process listens on a socket of its own, bound to the same address with
``SO_REUSEPORT``, and the kernel spreads new connections over them (by a hash of each
connection's addresses and ports). uvicorn's supervisor still starts, watches, restarts
and stops the processes; the parent first checks the port is free (a port another API
holds is refused, not silently shared), then binds it without listening (so it takes no
connection). One process (``--workers 1``) is plain ``uvicorn.run``. Linux (3.9+) has
``SO_REUSEPORT``; elsewhere this falls back to uvicorn's shared socket. Either way each
process freezes its start-up objects once it has started (``create_served_app``).

Every process runs on uvloop with httptools parsing HTTP, named here rather than left to
uvicorn's ``auto`` (which quietly falls back to asyncio's loop and the pure-Python h11 when
they are missing). Measured with ``bench.api_latency`` on 2 cores, 2 processes, 3 rounds
each (2026-12-06): ``/health/live`` 6,073 -> 9,895 req/s, ``GET /api/v1/jobs/{id}`` 1,910
-> 2,479, the e-mail command 535 -> 580. The worker pool stays on asyncio's loop: two A/B
pairs of ``bench.throughput`` showed no difference there.
"""

from __future__ import annotations

import argparse
import gc
import os
import socket
import sys
from typing import TYPE_CHECKING, Any

import uvicorn
from uvicorn.supervisors import multiprocess

if TYPE_CHECKING:
    from litestar import Litestar

APP = "api.serve:create_served_app"
EVENT_LOOP = "uvloop"
HTTP_PROTOCOL = "httptools"
LISTEN_BACKLOG = 2048  # uvicorn's default


def address_family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def shared_port_socket(host: str, port: int, *, listen: bool) -> socket.socket:
    """A TCP socket bound to ``host:port`` with SO_REUSEPORT (and listening, if ``listen``)."""
    # IPPROTO_TCP named: asyncio sets TCP_NODELAY only on sockets that say they are TCP (a
    # proto of 0 left answers waiting on delayed ACKs, 40 ms each)
    sock = socket.socket(address_family(host), socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        if listen:
            sock.listen(LISTEN_BACKLOG)
        sock.set_inheritable(True)
    except BaseException:
        sock.close()
        raise
    return sock


def refuse_if_taken(host: str, port: int) -> None:
    """Exit if something holds the port. A socket with SO_REUSEPORT would share it, without a
    word, with another process of the same user that has it too (a second API on the same
    port): bound once without it, as uvicorn binds, the port must be free."""
    with socket.socket(address_family(host), socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn's own bind
        try:
            probe.bind((host, port))
        except OSError as exc:
            sys.exit(f"cannot start: {host}:{port} is not free ({exc.strerror})")


def freeze_start_up_objects() -> None:
    """Collect what start-up left as garbage, then freeze the rest out of the collector's
    full passes. What an API process builds as it starts (modules, the app and its routes,
    the pool) lives as long as it does, and a full collection walked all of it each time:
    some 230,000 objects, 60-160 ms in which no request was served. Frozen, a full pass
    walks only what came later (1-3 ms). Worker processes do not do it: measured with
    ``bench.throughput``, frozen workers spent slightly more CPU a job (0.51 against 0.49
    ms, two pairs each way) and ran no faster, and no request waits on a worker's pause."""
    gc.collect()
    gc.freeze()


def create_served_app() -> Litestar:
    """The app as a serving process runs it: its start-up objects frozen once it has
    started (services open). Imported here, in the serving process: the supervisor has no
    use for the app."""
    from api.app import create_app

    app = create_app()
    app.on_startup.append(freeze_start_up_objects)
    return app


class OwnSocketProcess(multiprocess.Process):
    """A uvicorn worker process that serves on a listening socket of its own."""

    def target(self, sockets: list[socket.socket] | None = None) -> None:  # pragma: no cover
        own = shared_port_socket(self.config.host, self.config.port, listen=True)
        super().target([own])


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m api.serve", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=os.environ.get("WEB_CONCURRENCY", "1"))
    parser.add_argument("--timeout-graceful-shutdown", type=int, default=5)
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers (WEB_CONCURRENCY) must be at least 1")
    if not 1 <= args.port <= 65535:
        parser.error("--port must be 1-65535 (a process of its own for each worker needs it)")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse(sys.argv[1:] if argv is None else argv)
    options: dict[str, Any] = {
        "factory": True,
        "host": args.host,
        "port": args.port,
        "workers": args.workers,
        "access_log": False,
        "loop": EVENT_LOOP,
        "http": HTTP_PROTOCOL,
        "timeout_graceful_shutdown": args.timeout_graceful_shutdown,
    }
    if args.workers == 1 or not hasattr(socket, "SO_REUSEPORT"):
        uvicorn.run(APP, **options)  # uvicorn's own way, its exit codes included
        return
    refuse_if_taken(args.host, args.port)
    reserved = shared_port_socket(args.host, args.port, listen=False)
    multiprocess.Process = OwnSocketProcess  # type: ignore[misc]  # the supervisor's factory
    try:
        multiprocess.Multiprocess(uvicorn.Config(APP, **options), sockets=[reserved]).run()
    finally:
        reserved.close()


if __name__ == "__main__":
    main()
