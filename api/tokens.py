"""The bearer token format: minted here, read here, so it changes in one place.

Tokens are HS256 JWTs signed with ``JWT_SECRET`` carrying ``sub``, ``role``
and ``exp``. Until accounts exist, operators mint them with
``healthplat-token --sub USER --role admin``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence

import jwt

from domain.errors import Unauthorized
from domain.identity import Principal, Role

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ("sub", "role", "exp")
MAX_SUBJECT_LENGTH = 255
MIN_SECRET_LENGTH = 32


class InvalidToken(Unauthorized):
    """Raised when a token is present but cannot be trusted (bad signature, expired, malformed)."""

    code = "invalid_token"


def mint_token(secret: str, sub: str, role: Role | str, ttl_seconds: int) -> str:
    now = int(time.time())
    claims = {"sub": sub, "role": Role(role).value, "iat": now, "exp": now + int(ttl_seconds)}
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
    sub, role = claims.get("sub"), claims.get("role")
    if not isinstance(sub, str) or not sub or len(sub) > MAX_SUBJECT_LENGTH:
        raise InvalidToken("the token's subject is not valid")
    try:
        return Principal(user_id=sub, role=Role(role))
    except ValueError:
        raise InvalidToken("the token's role is not known") from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="healthplat-token",
        description="Mint a bearer token for the API (reads JWT_SECRET from the environment).",
    )
    parser.add_argument("--sub", required=True, help="the user id the token speaks for")
    parser.add_argument("--role", required=True, choices=[role.value for role in Role])
    parser.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds (default 3600)")
    args = parser.parse_args(argv)
    secret = os.environ.get("JWT_SECRET", "")
    if len(secret) < MIN_SECRET_LENGTH:
        print(f"JWT_SECRET must be set to at least {MIN_SECRET_LENGTH} characters", file=sys.stderr)
        return 2
    if args.ttl <= 0 or not args.sub or len(args.sub) > MAX_SUBJECT_LENGTH:
        print("--ttl must be positive and --sub 1 to 255 characters", file=sys.stderr)
        return 2
    print(mint_token(secret, args.sub, args.role, args.ttl))
    return 0


if __name__ == "__main__":
    sys.exit(main())
