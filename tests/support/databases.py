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
    """Copies of the template made ahead of time by one thread, and dropped behind by another:
    a test takes a database that already exists instead of waiting for CREATE DATABASE (half
    a second or more once the schema has a hundred tables), and does not wait for its DROP
    either. The two are apart because a DROP DATABASE waits for a checkpoint it forces
    (PostgreSQL 15), which writes every dirty page of the server: 0.1 s to many seconds
    under a test run's writes, during which no copy was being made."""

    def __init__(self, admin_url: str, template: str, ahead: int = 3) -> None:
        self._admin_url, self._template = admin_url, template
        self._ready: queue.Queue[str] = queue.Queue(maxsize=ahead)
        self._spent: queue.Queue[str | None] = queue.Queue()
        self._stop = threading.Event()
        self._failure: BaseException | None = None
        self._maker = threading.Thread(target=self._make, name="ready-databases", daemon=True)
        self._dropper = threading.Thread(target=self._drop, name="spent-databases", daemon=True)
        self._maker.start()
        self._dropper.start()

    def take(self) -> str:
        while True:
            try:
                return self._ready.get(timeout=1.0)
            except queue.Empty:
                if self._failure is not None or not self._maker.is_alive():
                    raise RuntimeError("no database could be made") from self._failure

    def give_back(self, name: str) -> None:
        self._spent.put(name)

    def close(self) -> None:
        self._stop.set()
        self._maker.join(timeout=60)
        self._spent.put(None)  # the dropper's last item: everything before it is dropped
        self._dropper.join(timeout=300)
        while not self._ready.empty():
            drop_database(self._admin_url, self._ready.get_nowait())

    def _make(self) -> None:
        made: str | None = None
        try:
            while not self._stop.is_set():
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

    def _drop(self) -> None:
        while (name := self._spent.get()) is not None:
            try:
                drop_database(self._admin_url, name)
            except psycopg.Error as exc:  # surfaced by the next take() that has to wait
                self._failure = exc
