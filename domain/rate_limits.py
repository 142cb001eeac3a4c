"""Which rate limits a request counts against, and how a count becomes an answer and headers.

A limit is a fixed window per key (a client IP for credential routes, a user
for everything a token vouches for, an account for sign-in guesses and e-mailed
codes, whichever address they come from). The counting itself lives in a shared
store (Redis), so every API process sees the same counts; this module only
says what the counts mean, so the rules read the same whatever stores them.

Headers follow the IETF RateLimit header fields draft in its widely deployed
form: ``RateLimit-Limit``, ``RateLimit-Remaining``, ``RateLimit-Reset``
(seconds until the window resets), plus ``Retry-After`` on a refusal.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import math
from typing import Protocol

import msgspec

WINDOW_SECONDS = 60
ACCOUNT_FAILURE_LIMIT = 10  # wrong sign-in guesses per account ...
ACCOUNT_FAILURE_WINDOW_SECONDS = 15 * 60  # ... per quarter of an hour
LOGIN_CODE_LIMIT = 5  # e-mails of one kind (codes, reset links, sign-up mail) per address ...
LOGIN_CODE_WINDOW_SECONDS = 3600  # ... per hour
_ACCOUNT_KEY_LABEL = b"healthplat rate limit account key v1"


class RateLimit(msgspec.Struct, frozen=True):
    """A budget of ``limit`` requests per ``window_seconds`` for one ``key``."""

    key: str
    limit: int
    window_seconds: int = WINDOW_SECONDS


class RateCount(msgspec.Struct, frozen=True):
    """What the store answered for one hit: the window's count so far and its time left."""

    count: int
    reset_ms: int


class RateDecision(msgspec.Struct, frozen=True):
    limit: int
    remaining: int
    reset_seconds: int
    allowed: bool
    first_refusal: bool  # the hit that crossed the limit: the one worth recording

    @classmethod
    def of(cls, rate: RateLimit, counted: RateCount) -> RateDecision:
        reset_ms = counted.reset_ms if counted.reset_ms > 0 else rate.window_seconds * 1000
        return cls(
            limit=rate.limit,
            remaining=max(rate.limit - counted.count, 0),
            reset_seconds=max(math.ceil(reset_ms / 1000), 1),
            allowed=counted.count <= rate.limit,
            first_refusal=counted.count == rate.limit + 1,
        )


def auth_limit(client_ip: str, per_minute: int) -> RateLimit:
    """Credential routes (login, codes, reset, MFA, refresh), counted per client address."""
    return RateLimit(f"auth:ip:{client_ip}", per_minute)


def user_limit(user_id: str, per_minute: int) -> RateLimit:
    """Everything an authenticated caller does, counted per user whichever address they use."""
    return RateLimit(f"user:{user_id}", per_minute)


def anonymous_limit(client_ip: str, per_minute: int) -> RateLimit:
    """Requests with no valid token, per address: refusing them costs an audit write each."""
    return RateLimit(f"anon:ip:{client_ip}", per_minute)


def account_key(secret: str, address: str) -> str:
    """What names an account in rate-limit keys: a keyed hash of its e-mail address, never the
    address (the store holds no PHI, and without ``secret`` no list of guessed addresses can be
    hashed to match). Case-blind, as the account lookup is: ``Alice@x`` and ``alice@x`` are one
    account, so they must be one budget."""
    key = hmac.new(secret.encode(), _ACCOUNT_KEY_LABEL, hashlib.sha256).digest()
    return hmac.new(key, address.lower().encode(), hashlib.sha256).hexdigest()[:32]


def account_failure_limit(account: str) -> RateLimit:
    """Wrong sign-in guesses (password, e-mailed code, TOTP or recovery code) for one account."""
    return RateLimit(
        f"account:failures:{account}", ACCOUNT_FAILURE_LIMIT, ACCOUNT_FAILURE_WINDOW_SECONDS
    )


class AddressMail(enum.StrEnum):
    """The kinds of e-mail anyone can make us send to an address, each capped per address."""

    LOGIN_CODE = "login_codes"
    RESET_LINK = "reset_links"
    SIGNUP = "signup_mails"


def address_mail_limit(kind: AddressMail, account: str) -> RateLimit:
    """E-mails of ``kind`` sent to one address: an inbox cannot be flooded from many clients."""
    return RateLimit(f"account:{kind.value}:{account}", LOGIN_CODE_LIMIT, LOGIN_CODE_WINDOW_SECONDS)


def login_code_limit(account: str) -> RateLimit:
    """Sign-in codes e-mailed to one address."""
    return address_mail_limit(AddressMail.LOGIN_CODE, account)


def binding(decisions: list[RateDecision]) -> RateDecision:
    """The decision a client must heed: a refusal first, else the one with least room left."""
    refused = [decision for decision in decisions if not decision.allowed]
    pool = refused or decisions
    return min(pool, key=lambda decision: (decision.remaining, -decision.reset_seconds))


def rate_limit_headers(decision: RateDecision) -> dict[str, str]:
    headers = {
        "RateLimit-Limit": str(decision.limit),
        "RateLimit-Remaining": str(decision.remaining),
        "RateLimit-Reset": str(decision.reset_seconds),
    }
    if not decision.allowed:
        headers["Retry-After"] = str(decision.reset_seconds)
    return headers


class RateLimiter(Protocol):
    """Counts hits in a store every API process shares; raises when that store cannot answer."""

    async def hit(self, rates: list[RateLimit]) -> list[RateCount]:
        """Count one hit against each of ``rates`` (in one round trip), in the same order."""
        ...

    async def give_back(self, rate: RateLimit) -> None:
        """Take back one hit counted against ``rate``, if its window is still open: a slot that
        was held for an attempt and turned out not to be spent."""
        ...

    async def close(self) -> None: ...
