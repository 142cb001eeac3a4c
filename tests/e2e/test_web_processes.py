"""The Procfile's web line on several processes (``python -m api.serve --workers 2``): the
kernel spreads connections over them, and a stop stops them all."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.support.processes import native_libraries, platform_env, start_api
from tests.support.servers import free_port

pytestmark = pytest.mark.slow

CONNECTIONS = 40


def served_connection(port: int) -> socket.socket:
    """A keep-alive connection that has had one answer (so a process has accepted it)."""
    conn = socket.create_connection(("127.0.0.1", port), timeout=10)
    conn.sendall(b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = conn.recv(4096)
        assert chunk, "the server closed the connection before answering"
        answer += chunk
    assert answer.startswith(b"HTTP/1.1 200"), answer[:100]
    return conn


def sockets_on(process: psutil.Process, port: int, status: str) -> int:
    return sum(
        1
        for c in process.net_connections(kind="tcp")
        if c.laddr and c.laddr.port == port and c.status == status
    )


def web_processes(parent: psutil.Process, port: int, count: int) -> list[psutil.Process]:
    """The parent's children listening on ``port`` (not its resource tracker), once ``count``."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        listening = [c for c in parent.children() if sockets_on(c, port, psutil.CONN_LISTEN)]
        if len(listening) == count:
            return listening
        time.sleep(0.1)
    raise AssertionError(f"not {count} processes listening on {port}")


def test_connections_held_open_are_spread_over_the_web_processes(settings, tmp_path: Path) -> None:
    port = free_port()
    api = start_api(settings, tmp_path / "logs", port, workers=2)
    connections: list[socket.socket] = []
    try:
        parent = psutil.Process(api.process.pid)
        children = web_processes(parent, port, 2)
        # the parent only holds the port: it listens on nothing and takes no connection
        assert sockets_on(parent, port, psutil.CONN_LISTEN) == 0
        # opened at once, as a proxy's pool or a load test opens them
        connections = [served_connection(port) for _ in range(CONNECTIONS)]
        held = {child.pid: sockets_on(child, port, psutil.CONN_ESTABLISHED) for child in children}
        assert sum(held.values()) == CONNECTIONS, held
        # Shared one listening socket, whichever process woke first took them all (measured:
        # every command on one of two processes). By the kernel's hash, each gets a share.
        assert min(held.values()) >= CONNECTIONS // 8, held
        # each serves on uvloop with httptools parsing (api.serve names both)
        for child in children:
            assert {"uvloop", "parser"} <= native_libraries(child), native_libraries(child)

        for conn in connections:
            conn.close()
        api.process.send_signal(signal.SIGTERM)
        api.process.wait(timeout=20)
        _, alive = psutil.wait_procs(children, timeout=5)
        assert not alive, alive
    finally:
        for conn in connections:
            conn.close()
        api.stop()


def test_a_port_another_api_holds_is_refused_not_shared(settings, tmp_path: Path) -> None:
    port = free_port()
    first = start_api(settings, tmp_path / "first", port, workers=2)
    try:
        second = subprocess.run(
            [sys.executable, "-m", "api.serve", "--port", str(port), "--workers", "2"],
            env=platform_env(settings),
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        first.stop()
    assert second.returncode == 1
    assert f"cannot start: 127.0.0.1:{port} is not free" in second.stderr, second.stderr
