"""A database per test, copied from a template built once from the migrations."""

from __future__ import annotations

import queue
import threading
import uuid
from urllib.parse import urlsplit, urlunsplit

import psycopg
from alembic import command
from alembic.config import Config

from tests.support.paths import PROJECT_ROOT


def database_url_for(admin_url: str, name: str) -> str:
    parts = urlsplit(admin_url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def alembic_config(database_url: str) -> Config:
    config = Config(toml_file=str(PROJECT_ROOT / "pyproject.toml"))
    config.attributes["database_url"] = database_url
    return config


def create_database(admin_url: str, template: str | None = None) -> str:
    name = f"hp_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        clause = f" TEMPLATE {template}" if template else ""
        conn.execute(f"CREATE DATABASE {name}{clause}")
    return name


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def build_template(admin_url: str) -> str:
    name = create_database(admin_url)
    command.upgrade(alembic_config(database_url_for(admin_url, name)), "head")
    return name


class ReadyDatabases:
    """Copies of the template made ahead of time, and dropped behind, by one thread: a test
    takes a database that already exists instead of waiting for CREATE DATABASE (half a second
    or more once the schema has a hundred tables), and does not wait for its DROP either."""

    def __init__(self, admin_url: str, template: str, ahead: int = 2) -> None:
        self._admin_url, self._template = admin_url, template
        self._ready: queue.Queue[str] = queue.Queue(maxsize=ahead)
        self._spent: queue.Queue[str] = queue.Queue()
        self._stop = threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name="ready-databases", daemon=True)
        self._thread.start()

    def take(self) -> str:
        while True:
            try:
                return self._ready.get(timeout=1.0)
            except queue.Empty:
                if self._failure is not None or not self._thread.is_alive():
                    raise RuntimeError("no database could be made") from self._failure

    def give_back(self, name: str) -> None:
        self._spent.put(name)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)
        for waiting in (self._ready, self._spent):
            while not waiting.empty():
                drop_database(self._admin_url, waiting.get_nowait())

    def _work(self) -> None:
        made: str | None = None
        try:
            while not self._stop.is_set():
                self._drop_spent()
                if made is None:
                    made = create_database(self._admin_url, template=self._template)
                try:
                    self._ready.put(made, timeout=0.1)
                    made = None
                except queue.Full:
                    continue
        except BaseException as exc:  # surfaced by take()
            self._failure = exc
        finally:
            if made is not None:
                drop_database(self._admin_url, made)

    def _drop_spent(self) -> None:
        while True:
            try:
                name = self._spent.get_nowait()
            except queue.Empty:
                return
            drop_database(self._admin_url, name)
