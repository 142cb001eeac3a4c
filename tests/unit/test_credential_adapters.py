"""The argon2 password hasher and the pyotp TOTP adapter: pure computation, no IO."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from argon2 import PasswordHasher

from domain.adapters.accounts.passwords import Argon2Passwords
from domain.adapters.accounts.totp import PyOtpTotp

AT = datetime(2025, 3, 1, 12, 0, 10, tzinfo=UTC)
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def passwords() -> Argon2Passwords:
    return Argon2Passwords()


async def test_a_password_verifies_against_its_hash(passwords: Argon2Passwords) -> None:
    hashed = await passwords.hash(PASSWORD)
    assert hashed.startswith("$argon2id$")
    assert PASSWORD not in hashed
    assert await passwords.verify(hashed, PASSWORD)
    assert not await passwords.verify(hashed, PASSWORD + "!")
    assert not passwords.needs_rehash(hashed)


async def test_no_hash_and_a_broken_hash_never_verify(passwords: Argon2Passwords) -> None:
    assert not await passwords.verify(None, PASSWORD)
    assert not await passwords.verify("not-a-hash", PASSWORD)


async def test_a_weaker_hash_needs_rehashing(passwords: Argon2Passwords) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)
    assert await passwords.verify(weak, PASSWORD)
    assert passwords.needs_rehash(weak)


def test_totp_accepts_one_step_either_side_and_names_the_step() -> None:
    totp = PyOtpTotp()
    secret = totp.new_secret()
    reference = pyotp.TOTP(secret)
    step = reference.timecode(AT)
    for offset in (-1, 0, 1):
        code = reference.generate_otp(step + offset)
        assert totp.match(secret, code, at=AT, after_step=None) == step + offset
    for offset in (-2, 2):
        code = reference.generate_otp(step + offset)
        assert totp.match(secret, code, at=AT, after_step=None) is None


def test_totp_refuses_a_step_already_used_or_older() -> None:
    totp = PyOtpTotp()
    secret = totp.new_secret()
    reference = pyotp.TOTP(secret)
    step = reference.timecode(AT)
    code = reference.generate_otp(step)
    assert totp.match(secret, code, at=AT, after_step=step) is None
    assert totp.match(secret, reference.generate_otp(step - 1), at=AT, after_step=step - 1) is None
    assert totp.match(secret, code, at=AT, after_step=step - 1) == step
    later = AT + timedelta(seconds=30)
    assert totp.match(secret, reference.at(later), at=later, after_step=step) == step + 1


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", " 12 34 "])
def test_totp_refuses_malformed_codes(code: str) -> None:
    totp = PyOtpTotp()
    assert totp.match(totp.new_secret(), code, at=AT, after_step=None) is None


def test_the_provisioning_uri_and_its_qr_code() -> None:
    totp = PyOtpTotp()
    secret = totp.new_secret()
    uri = totp.provisioning_uri(secret, account="dr@example.org", issuer="Healthplat")
    assert uri.startswith("otpauth://totp/Healthplat:dr%40example.org?")
    assert f"secret={secret}" in uri and "issuer=Healthplat" in uri
    assert totp.qr_code(uri).startswith("data:image/svg+xml")
