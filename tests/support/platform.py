"""The platform's services for a test, opened and closed around a block."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from domain.adapters.bootstrap import Services, build_services
from domain.adapters.jobs.messaging import build_broker
from domain.clock import Clock
from domain.settings import Settings
from domain.wiring import Wired


@asynccontextmanager
async def running_services(
    settings: Settings, *, clock: Clock | None = None, pool_max_size: int = 4
) -> AsyncIterator[Services]:
    """Real adapters on ``settings``; the broker has no actors (it only sends)."""
    built = build_services(
        settings, build_broker(settings.redis_url), clock=clock, pool_max_size=pool_max_size
    )
    await built.open()
    try:
        yield built
    finally:
        await built.close()


def use_cases(services: Services) -> Wired:
    """The use cases wired to ``services`` by name, as the API and the workers wire them."""
    return Wired(services.dependencies())
