"""Dramatiq over Redis as the platform's message channel.

The API and the relay send work by actor *name* (a bare ``dramatiq.Message``),
so nothing outside ``workers`` imports an actor. A message says only "job X
is due"; the job's row says everything else.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker

from domain.jobs.model import Job, actor_name_of
from domain.setting_values import SettingsError, refusal

# A message held by a SIGKILLed worker is handed out again only through Redis
# "maintenance"; these values make that take seconds instead of a quarter hour
# (SERVICES.md). The relay recovers the job either way.
HEARTBEAT_TIMEOUT_MS = 15_000
MAINTENANCE_CHANCE = 10_000


REDIS_URL_FORM = "a redis://, rediss:// or unix:// URL, e.g. redis://127.0.0.1:6379/0"


def check_redis_url(url: str) -> None:
    """Refuse REDIS_URL unless redis-py reads it (the broker and the rate limiter both do)."""
    try:
        redis.connection.parse_url(url)
    except ValueError:
        raise SettingsError(refusal("REDIS_URL", f"be {REDIS_URL_FORM}", url)) from None


def build_broker(
    redis_url: str, middleware: Iterable[dramatiq.Middleware] | None = None
) -> RedisBroker:
    client = redis.Redis.from_url(
        redis_url, socket_timeout=10.0, socket_connect_timeout=2.0, health_check_interval=30
    )
    return RedisBroker(
        client=client,
        middleware=list(middleware) if middleware is not None else None,
        heartbeat_timeout=HEARTBEAT_TIMEOUT_MS,
        maintenance_chance=MAINTENANCE_CHANCE,
    )


def message_for(job: Job) -> dramatiq.Message:
    return dramatiq.Message(
        queue_name=job.queue,
        actor_name=actor_name_of(job.kind),
        args=(str(job.id),),
        kwargs={},
        options={},
    )


class DramatiqSender:
    """Sends job messages through a broker; Redis calls run off the event loop."""

    def __init__(self, broker: RedisBroker) -> None:
        self._broker = broker

    async def send(self, job: Job, delay_seconds: float = 0.0) -> None:
        delay_ms = int(delay_seconds * 1000) if delay_seconds > 0 else None
        await asyncio.to_thread(self._broker.enqueue, message_for(job), delay=delay_ms)
