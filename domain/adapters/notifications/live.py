"""Live notices over Redis pub/sub: one channel per user, carrying event ids only.

Every API process subscribes to the channels of the users connected to it,
and any process (an API, a worker) publishes, so a notice made anywhere
reaches its user's client wherever it is connected. Nothing here is PHI: the
client's connection reads the notice from PostgreSQL as its user.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aioredis

CHANNEL_PREFIX = "healthplat:notices:"


def channel_of(user_id: uuid.UUID) -> str:
    return f"{CHANNEL_PREFIX}{user_id}"


class RedisLiveChannel:
    def __init__(self, redis_url: str) -> None:
        self._client = aioredis.Redis.from_url(
            redis_url, socket_connect_timeout=2.0, health_check_interval=30
        )

    async def announce(self, user_id: uuid.UUID, seq: int) -> None:
        await self._client.publish(channel_of(user_id), str(seq))

    @asynccontextmanager
    async def listen(self, user_id: uuid.UUID) -> AsyncIterator[AsyncIterator[int]]:
        pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(channel_of(user_id))
        try:
            yield self._events(pubsub)
        finally:
            await pubsub.aclose()

    async def _events(self, pubsub: aioredis.client.PubSub) -> AsyncIterator[int]:
        async for message in pubsub.listen():
            if message.get("type") == "message":
                try:
                    yield int(message["data"])
                except (TypeError, ValueError):
                    continue

    async def close(self) -> None:
        await self._client.aclose()
