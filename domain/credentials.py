"""Minting bearer secrets and the digests we keep of them.

A secret (refresh token, e-mailed link token, login code, recovery code)
leaves the server once and is never stored: only its SHA-256 digest is, so a
copy of the database opens no session. Link and refresh tokens carry 256
bits and recovery codes 80, so a plain digest is safe for them; a 6-digit
login code is weak by nature and is guarded by its 5-minute life and its
attempt limit instead.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

TOKEN_BYTES = 32
RECOVERY_CODE_BYTES = 10  # 80 bits: 16 base32 characters
RECOVERY_CODE_COUNT = 10


def new_token() -> str:
    """An unguessable URL-safe token (links, refresh tokens, MFA challenges)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def new_numeric_code(digits: int) -> str:
    return f"{secrets.randbelow(10**digits):0{digits}d}"


def digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def digest_matches(secret: str, expected: bytes) -> bool:
    """Compare in constant time: the time taken says nothing about how close a guess was."""
    return hmac.compare_digest(digest(secret), bytes(expected))


def new_recovery_code() -> str:
    """``abcd-efgh-ijkl-mnop``: lower-case base32, grouped so a person can copy it."""
    raw = base64.b32encode(secrets.token_bytes(RECOVERY_CODE_BYTES)).decode().lower()
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def normalize_recovery_code(code: str) -> str:
    """What a person may type: any case, with or without dashes and spaces."""
    return "".join(code.split()).replace("-", "").lower()


def recovery_code_digest(code: str) -> bytes:
    return digest(normalize_recovery_code(code))
