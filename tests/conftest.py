"""Shared fixtures: real PostgreSQL (a fresh database per test) and real Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from domain.adapters.bootstrap import Services
from domain.clock import ManualClock
from domain.settings import Settings
from tests.support.databases import (
    ReadyDatabases,
    build_template,
    database_url_for,
    drop_database,
)
from tests.support.horizon import HorizonServer, running_horizon
from tests.support.platform import running_services
from tests.support.servers import TestServers
from tests.support.smtp import smtp_server  # noqa: F401

pytest_plugins = ["tests.support.log_capture"]  # the whole suite's logs are scanned for PHI

TEST_JWT_SECRET = "test-secret-" + "x" * 40
TEST_PHI_KEYS = {"test-k1": bytes(range(32)), "test-k2": bytes(range(32, 64))}


@pytest.fixture(scope="session")
def servers() -> Iterator[TestServers]:
    found = TestServers()
    yield found
    found.stop()


@pytest.fixture(scope="session")
def template_database(servers: TestServers) -> Iterator[str]:
    name = build_template(servers.admin_database_url)
    yield name
    drop_database(servers.admin_database_url, name)


@pytest.fixture(scope="session")
def ready_databases(servers: TestServers, template_database: str) -> Iterator[ReadyDatabases]:
    ready = ReadyDatabases(servers.admin_database_url, template_database)
    yield ready
    ready.close()


@pytest.fixture
def database_url(servers: TestServers, ready_databases: ReadyDatabases) -> Iterator[str]:
    """A fresh database copied from the migrated template (made ahead, dropped behind)."""
    name = ready_databases.take()
    yield database_url_for(servers.admin_database_url, name)
    ready_databases.give_back(name)


@pytest.fixture
def redis_url(servers: TestServers) -> str:
    redis.Redis.from_url(servers.redis_url).flushdb()
    return servers.redis_url


def make_settings(database_url: str, redis_url: str, data_dir: Path, **overrides: Any) -> Settings:
    """The suite's settings: test secrets and keys, short job timings."""
    fields: dict[str, Any] = {
        "database_url": database_url,
        "redis_url": redis_url,
        "jwt_secret": TEST_JWT_SECRET,
        "phi_keys": TEST_PHI_KEYS,
        "phi_active_key_id": "test-k2",
        "data_dir": data_dir,
        "job_heartbeat_seconds": 0.5,
        "job_stale_after_seconds": 2.0,
        "relay_interval_seconds": 0.5,
        "relay_grace_seconds": 1.0,
    }
    return Settings(**{**fields, **overrides})


@pytest.fixture
def settings(database_url: str, redis_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, redis_url, tmp_path / "data")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def services(settings: Settings) -> AsyncIterator[Services]:
    """Real adapters on the system clock; the broker has no actors (it only sends)."""
    async with running_services(settings) as built:
        yield built


@pytest.fixture
async def clocked_services(settings: Settings, clock: ManualClock) -> AsyncIterator[Services]:
    """The same adapters on a clock the test moves."""
    async with running_services(settings, clock=clock) as built:
        yield built


@pytest.fixture
def horizon() -> Iterator[HorizonServer]:
    """A local Horizon-compatible server (tests/support/horizon.py): ledgers close every 0.2 s,
    its submission timeout (504) is 1 s."""
    with running_horizon(ledger_seconds=0.2, submission_timeout=1.0) as server:
        yield server


pytest_plugins += ["tests.support.ipfs_node"]  # IPFS: ipfs_api_url, kubo_store, block_store ...
