"""The bearer token format: minted here, read here, so it changes in one place.

Tokens are HS256 JWTs signed with ``JWT_SECRET`` carrying ``sub`` (the user
id), ``role`` and ``exp``, and for a limited token ``scope``. Sign-in mints
them (api/controllers/auth/); operators mint one for an existing account
with ``healthplat-token`` (api/operator_cli.py).
"""

from __future__ import annotations

import time
from collections import OrderedDict

import jwt

from domain.errors import Unauthorized
from domain.identity import TOKEN_SCOPES, Principal, Role

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ("sub", "role", "exp")
MAX_SUBJECT_LENGTH = 255
MIN_SECRET_LENGTH = 32


class InvalidToken(Unauthorized):
    """Raised when a token is present but cannot be trusted (bad signature, expired, malformed)."""

    code = "invalid_token"


def mint_token(
    secret: str, sub: str, role: Role | str, ttl_seconds: int, *, scope: str | None = None
) -> str:
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": sub,
        "role": Role(role).value,
        "iat": now,
        "exp": now + int(ttl_seconds),
    }
    if scope is not None:
        if scope not in TOKEN_SCOPES:
            raise ValueError("unknown token scope")
        claims["scope"] = scope
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


class _VerifiedTokens:
    """Tokens this process has verified, with their principal and expiry, most recent last.

    Verifying a token costs about 0.3 ms of Python (PyJWT), on every request, while a client
    sends the same token for its whole life. A token that verified once under a secret verifies
    again under it until it expires (nothing else in it can change: its signature covers every
    claim, and ``iat``/``nbf`` only ever move into the past), so a hit needs only the expiry
    check. Keyed by (secret, token): a forged or altered token is never found here. Bounded:
    the least recently used entry goes first.
    """

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[tuple[str, str], tuple[Principal, float]] = OrderedDict()

    def get(self, secret: str, token: str) -> Principal | None:
        key = (secret, token)
        found = self._entries.get(key)
        if found is None:
            return None
        principal, expires_at = found
        if expires_at <= time.time():  # PyJWT's rule: expired once exp <= now
            self._entries.pop(key, None)
            return None
        self._entries.move_to_end(key)
        return principal

    def put(self, secret: str, token: str, principal: Principal, expires_at: float) -> None:
        self._entries[(secret, token)] = (principal, expires_at)
        self._entries.move_to_end((secret, token))
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()


VERIFIED_TOKENS = _VerifiedTokens(capacity=10_000)


def read_token(secret: str, token: str) -> Principal:
    """The principal a token vouches for; raises InvalidToken for anything untrustworthy.

    The messages say which rule failed but never echo the token or its claims. A token
    verified before is found in ``VERIFIED_TOKENS`` while it has not expired.
    """
    cached = VERIFIED_TOKENS.get(secret, token)
    if cached is not None:
        return cached
    principal, expires_at = _verify(secret, token)
    VERIFIED_TOKENS.put(secret, token, principal, expires_at)
    return principal


def _verify(secret: str, token: str) -> tuple[Principal, float]:
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": list(REQUIRED_CLAIMS)}
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken("the token has expired") from None
    except jwt.InvalidTokenError:
        raise InvalidToken("the token is malformed or not signed by us") from None
    sub, role, scope = claims.get("sub"), claims.get("role"), claims.get("scope")
    if not isinstance(sub, str) or not sub or len(sub) > MAX_SUBJECT_LENGTH:
        raise InvalidToken("the token's subject is not valid")
    if scope is not None and scope not in TOKEN_SCOPES:
        raise InvalidToken("the token's scope is not known")
    try:
        principal = Principal(user_id=sub, role=Role(role), scope=scope)
    except ValueError:
        raise InvalidToken("the token's role is not known") from None
    return principal, float(claims["exp"])
