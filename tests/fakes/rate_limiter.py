"""The shared rate store in memory, on the tests' clock, as the sign-in budgets use it.

Same rules as the Redis store (domain/adapters/rate_limiter.py): a key's window starts at
its first hit and is not moved by later ones, a hit answers the window's count so far and
its time left, and a hit given back only counts while its window lasts. With
``available = False`` every call fails, as a store that does not answer does.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from domain.clock import Clock
from domain.rate_limits import RateCount, RateLimit


class RateStoreDown(ConnectionError):
    """Raised by every call while the fake store is made unavailable."""


class FakeRateLimiter:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._windows: dict[str, tuple[int, datetime]] = {}
        self.available = True

    def _open_window(self, rate: RateLimit) -> tuple[int, datetime]:
        now = self._clock.now()
        count, ends = self._windows.get(rate.key, (0, now))
        if ends <= now:  # none yet, or it has ended: the next hit starts a new one
            return 0, now + timedelta(seconds=rate.window_seconds)
        return count, ends

    def _check(self) -> None:
        if not self.available:
            raise RateStoreDown("the rate store does not answer")

    async def hit(self, rates: list[RateLimit]) -> list[RateCount]:
        self._check()
        counted = []
        for rate in rates:
            count, ends = self._open_window(rate)
            self._windows[rate.key] = (count + 1, ends)
            left = ends - self._clock.now()
            counted.append(RateCount(count + 1, int(left.total_seconds() * 1000)))
        return counted

    async def give_back(self, rate: RateLimit) -> None:
        self._check()
        count, ends = self._windows.get(rate.key, (0, self._clock.now()))
        if count and ends > self._clock.now():
            self._windows[rate.key] = (count - 1, ends)

    async def close(self) -> None:
        return None

    def count(self, key: str) -> int:
        """What the store holds for ``key`` now (0 once its window has ended)."""
        count, ends = self._windows.get(key, (0, self._clock.now()))
        return count if ends > self._clock.now() else 0

    def keys(self) -> list[str]:
        return list(self._windows)
