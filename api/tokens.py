"""The bearer token format: minted here, read here, so it changes in one place.

Tokens are HS256 JWTs signed with ``JWT_SECRET`` carrying ``sub`` (the user
id), ``role`` and ``exp``, and for a limited token ``scope``. Sign-in mints
them (api/controllers/auth/); operators mint one for an existing account
with ``healthplat-token`` (api/operator_cli.py).
"""

from __future__ import annotations

import time

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


def read_token(secret: str, token: str) -> Principal:
    """The principal a token vouches for; raises InvalidToken for anything untrustworthy.

    The messages say which rule failed but never echo the token or its claims.
    """
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
        return Principal(user_id=sub, role=Role(role), scope=scope)
    except ValueError:
        raise InvalidToken("the token's role is not known") from None
