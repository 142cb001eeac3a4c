"""Fixed-window rate counts in Redis, shared by every API process.

One Lua script counts a hit against each key of a request and starts a
key's window on its first hit (INCR, then PEXPIRE if the key has no expiry
yet), atomically and in one round trip: two processes can never both see
the last free slot. Another takes one hit back while the key's window
lasts. The window starts with a key's first hit, so it needs no clock
agreement between API hosts. Hits of requests a process serves at the same
time go to Redis together, in one call of the script (the same key twice
counts twice, in order), as the job store batches its writes (coalescer.py):
a lone request is counted at once, and under load the per-request cost of
a round trip is shared. Timeouts are short: a request must
not wait on a sick Redis; the caller decides what a failure means.
"""

from __future__ import annotations

import redis.asyncio as aioredis

from domain.adapters.jobs.coalescer import Coalescer
from domain.rate_limits import RateCount, RateLimit

KEY_PREFIX = "healthplat:ratelimit:"
TIMEOUT_SECONDS = 0.5

_HIT = """
local answer = {}
for i, key in ipairs(KEYS) do
  local count = redis.call('INCR', key)
  local ttl = redis.call('PTTL', key)
  if ttl < 0 then
    ttl = tonumber(ARGV[i])
    redis.call('PEXPIRE', key, ttl)
  end
  answer[#answer + 1] = count
  answer[#answer + 1] = ttl
end
return answer
"""


# A window that ended meanwhile is left alone: DECR would start a key without an expiry.
_GIVE_BACK = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('DECR', KEYS[1])
end
return 0
"""


class RedisRateLimiter:
    def __init__(self, client: aioredis.Redis) -> None:
        self._client = client
        self._hit = client.register_script(_HIT)
        self._hits: Coalescer[list[RateLimit], list[RateCount]] = Coalescer(self._hit_many)
        self._give_back = client.register_script(_GIVE_BACK)

    @classmethod
    def from_url(cls, redis_url: str) -> RedisRateLimiter:
        """No IO here: the client connects on first use, on the loop that uses it."""
        client = aioredis.Redis.from_url(
            redis_url,
            socket_timeout=TIMEOUT_SECONDS,
            socket_connect_timeout=TIMEOUT_SECONDS,
            health_check_interval=30,
        )
        return cls(client)

    async def hit(self, rates: list[RateLimit]) -> list[RateCount]:
        if not rates:
            return []
        return await self._hits.submit(rates)

    async def _hit_many(self, requests: list[list[RateLimit]]) -> list[list[RateCount]]:
        """Every request's hits in one call of the script; each request's counts, in order."""
        rates = [rate for request in requests for rate in request]
        flat = await self._hit(
            keys=[KEY_PREFIX + rate.key for rate in rates],
            args=[rate.window_seconds * 1000 for rate in rates],
        )
        counts = [RateCount(int(flat[i]), int(flat[i + 1])) for i in range(0, len(flat), 2)]
        answers: list[list[RateCount]] = []
        for request in requests:
            answers.append(counts[: len(request)])
            del counts[: len(request)]
        return answers

    async def give_back(self, rate: RateLimit) -> None:
        await self._give_back(keys=[KEY_PREFIX + rate.key])

    async def close(self) -> None:
        await self._client.aclose()
