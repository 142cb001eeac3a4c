"""Fast stand-ins for the password hasher and the TOTP provider, under the same protocols
(domain.accounts.ports.PasswordHasher, TotpProvider) and the same rules.

The hasher is salted SHA-256 behind a scheme version: verifying without a hash answers
False (and is counted, as argon2's dummy verify costs the same time), and a hash of an
older version needs rehashing. The TOTP provider makes six-digit codes per 30-second step
from an HMAC of the secret, accepts a code one step either side of now and never a step
not later than the last one accepted; ``code_at`` is what the user's authenticator shows.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime
from urllib.parse import quote

SCHEME = "fake2"
OLD_SCHEME = "fake1"
STEP_SECONDS = 30
WINDOW = 1  # steps accepted either side of now


def _hashed(scheme: str, password: str) -> str:
    salt = secrets.token_hex(8)
    return f"{scheme}${salt}${hashlib.sha256((salt + password).encode()).hexdigest()}"


class FakePasswords:
    def __init__(self) -> None:
        self.verified_without_hash = 0

    async def hash(self, password: str) -> str:
        return _hashed(SCHEME, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        if password_hash is None:
            self.verified_without_hash += 1
            return False
        scheme, _, rest = password_hash.partition("$")
        salt, _, expected = rest.partition("$")
        made = hashlib.sha256((salt + password).encode()).hexdigest()
        return scheme in (SCHEME, OLD_SCHEME) and hmac.compare_digest(made, expected)

    def needs_rehash(self, password_hash: str) -> bool:
        return not password_hash.startswith(f"{SCHEME}$")


def old_hash(password: str) -> str:
    """Test setup: a hash made with yesterday's weaker parameters."""
    return _hashed(OLD_SCHEME, password)


def _step(at: datetime) -> int:
    return int(at.timestamp()) // STEP_SECONDS


def _code(secret: str, step: int) -> str:
    mac = hmac.new(secret.encode(), str(step).encode(), hashlib.sha256).digest()
    return f"{int.from_bytes(mac[:4], 'big') % 1_000_000:06d}"


class FakeTotp:
    def new_secret(self) -> str:
        return secrets.token_hex(10).upper()

    def provisioning_uri(self, secret: str, *, account: str, issuer: str) -> str:
        label = quote(f"{issuer}:{account}")
        return f"otpauth://totp/{label}?secret={secret}&issuer={quote(issuer)}"

    def qr_code(self, uri: str) -> str:
        return "data:image/svg+xml;utf8," + quote(f"<svg><desc>{uri}</desc></svg>")

    def match(self, secret: str, code: str, *, at: datetime, after_step: int | None) -> int | None:
        now = _step(at)
        found = None
        for step in range(now - WINDOW, now + WINDOW + 1):
            if hmac.compare_digest(_code(secret, step), code.strip()) and (
                after_step is None or step > after_step
            ):
                found = step
        return found


def code_at(secret: str, at: datetime) -> str:
    """The code an authenticator app holding ``secret`` shows at ``at``."""
    return _code(secret, _step(at))


def wrong_code_at(secret: str, at: datetime) -> str:
    """A well-formed code that no step accepted at ``at`` makes."""
    accepted = {_code(secret, step) for step in range(_step(at) - WINDOW, _step(at) + WINDOW + 1)}
    return next(code for code in (f"{n:06d}" for n in range(10)) if code not in accepted)
