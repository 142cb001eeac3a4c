"""Rate limits counted in real Redis, through the real app (one process; tests/e2e has two)."""

from __future__ import annotations

import asyncio

import msgspec
import pytest
import redis

from domain.adapters.rate_limiter import KEY_PREFIX, RedisRateLimiter
from domain.rate_limits import RateLimit
from tests.support.api import ADMIN, api_client, assert_problem, bearer
from tests.support.people import PATIENT_ALICE
from tests.support.rows import audit_events
from tests.support.servers import free_port

LOGIN = "/api/v1/auth/login"
WRONG_PASSWORD = {"email": PATIENT_ALICE.email, "password": "not the password"}


@pytest.fixture
def tight(settings):
    return msgspec.structs.replace(
        settings, rate_limit_auth_per_minute=3, rate_limit_user_per_minute=3
    )


def rate_headers(response) -> tuple[str, str, str]:
    return tuple(
        response.headers.get(name)
        for name in ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset")
    )


async def test_concurrent_hits_each_get_their_own_count(redis_url) -> None:
    limiter = RedisRateLimiter.from_url(redis_url)
    try:
        rate = RateLimit("test:burst", limit=10)
        counts = await asyncio.gather(*(limiter.hit([rate]) for _ in range(40)))
        assert sorted(count.count for [count] in counts) == list(range(1, 41))
        assert all(0 < count.reset_ms <= 60_000 for [count] in counts)
        two = await limiter.hit([rate, RateLimit("test:other", limit=1, window_seconds=5)])
        assert [c.count for c in two] == [41, 1] and two[1].reset_ms <= 5000
    finally:
        await limiter.close()


def script_calls(redis_url: str) -> int:
    stats = redis.Redis.from_url(redis_url).info("commandstats")
    return sum(stats.get(f"cmdstat_{name}", {}).get("calls", 0) for name in ("evalsha", "eval"))


async def test_requests_counted_together_each_get_their_own_answers(redis_url) -> None:
    limiter = RedisRateLimiter.from_url(redis_url)
    user = RateLimit("test:user", limit=100)
    address = RateLimit("test:address", limit=100, window_seconds=5)
    # a credential request counts against two budgets, the others against one
    requests = [[user, address] if n % 3 == 0 else [user] for n in range(30)]
    try:
        await limiter.hit([RateLimit("test:warm", limit=1)])  # the script loaded, a connection
        calls_before = script_calls(redis_url)
        answers = await asyncio.gather(*(limiter.hit(rates) for rates in requests))
        calls = script_calls(redis_url) - calls_before
    finally:
        await limiter.close()
    assert [len(answer) for answer in answers] == [len(rates) for rates in requests]
    assert sorted(answer[0].count for answer in answers) == list(range(1, 31))
    assert sorted(answer[1].count for answer in answers if len(answer) == 2) == list(range(1, 11))
    assert all(answer[1].reset_ms <= 5000 for answer in answers if len(answer) == 2)
    assert calls < len(requests) / 2, f"{calls} script calls for {len(requests)} requests"


async def test_a_hit_given_back_frees_its_slot_but_never_outlives_its_window(redis_url) -> None:
    limiter = RedisRateLimiter.from_url(redis_url)
    try:
        rate = RateLimit("test:held", limit=3, window_seconds=60)
        await limiter.hit([rate, rate])
        await limiter.give_back(rate)
        [count] = await limiter.hit([rate])
        assert count.count == 2 and 0 < count.reset_ms <= 60_000  # the window did not move

        ended = RateLimit("test:ended", limit=3, window_seconds=60)
        await limiter.give_back(ended)  # no window open: nothing to give back, no key left
        assert not redis.Redis.from_url(redis_url).exists(KEY_PREFIX + ended.key)
    finally:
        await limiter.close()


async def test_every_api_answer_says_how_much_is_left(tight) -> None:
    async with api_client(tight) as api:
        first = await api.get("/api/v1/jobs", headers=ADMIN)
        second = await api.get("/api/v1/jobs", headers=ADMIN)
        live = await api.get("/health/live")

    assert rate_headers(first)[:2] == ("3", "2") and rate_headers(second)[:2] == ("3", "1")
    assert 0 < int(rate_headers(second)[2]) <= 60
    assert rate_headers(live) == (None, None, None)  # probes are never limited


async def test_a_user_over_the_limit_gets_429_others_do_not(tight) -> None:
    async with api_client(tight) as api:
        for _ in range(3):
            assert (await api.get("/api/v1/jobs", headers=ADMIN)).status_code == 200
        refused = await api.get("/api/v1/jobs", headers=ADMIN)
        other = await api.get("/api/v1/jobs", headers=bearer("admin-2", "admin"))

    problem = assert_problem(refused, 429)
    assert problem["code"] == "rate_limited"
    assert rate_headers(refused)[:2] == ("3", "0")
    assert refused.headers["retry-after"] == rate_headers(refused)[2]
    assert refused.headers["cache-control"] == "no-store"  # security headers on a 429 too
    assert other.status_code == 200


async def test_credential_routes_are_limited_per_address(tight, database_url) -> None:
    async with api_client(tight) as api:
        answers = [(await api.post(LOGIN, json=WRONG_PASSWORD)).status_code for _ in range(6)]

    assert answers[:3] == [401, 401, 401]
    assert answers[3:] == [429, 429, 429]
    # of the burst of 429s, only the one that crossed the limit is on the trail
    limited = [e for e in audit_events(database_url, outcome=None) if e["status_code"] == 429]
    assert len(limited) == 1
    assert (limited[0]["action"], limited[0]["resource_id"]) == ("public.login", LOGIN)
    assert limited[0]["outcome"] == "denied"


async def test_requests_without_a_valid_token_are_limited_per_address(tight) -> None:
    async with api_client(tight) as api:
        answers = [(await api.get("/api/v1/jobs")).status_code for _ in range(4)]
    assert answers == [401, 401, 401, 429]


async def test_with_redis_down_reads_pass_and_credential_routes_refuse(settings) -> None:
    dead = msgspec.structs.replace(settings, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    async with api_client(dead) as api:
        read = await api.get("/api/v1/jobs", headers=ADMIN)
        login = await api.post(LOGIN, json=WRONG_PASSWORD)

    assert read.status_code == 200 and rate_headers(read) == (None, None, None)
    problem = assert_problem(login, 503)
    assert problem["code"] == "rate_limiter_unavailable"
    assert login.headers["retry-after"] == "5"
