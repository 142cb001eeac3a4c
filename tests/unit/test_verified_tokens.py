"""Verified tokens are remembered until they expire: a repeat costs a lookup, never trust.

api/tokens.py keeps (secret, token) -> principal for tokens that verified; these tests
pin what must stay true of that shortcut: an expired, altered or foreign token is still
refused, and the memory is bounded.
"""

from __future__ import annotations

import time

import jwt
import pytest

from api import tokens
from api.tokens import InvalidToken, mint_token, read_token
from domain.identity import Role

SECRET = "s" * 48
OTHER_SECRET = "o" * 48


@pytest.fixture(autouse=True)
def empty_memory():
    tokens.VERIFIED_TOKENS.clear()
    yield
    tokens.VERIFIED_TOKENS.clear()


def counting_decode(monkeypatch) -> list[str]:
    calls: list[str] = []
    real = jwt.decode

    def decode(token, *args, **kwargs):
        calls.append(token)
        return real(token, *args, **kwargs)

    monkeypatch.setattr(jwt, "decode", decode)
    return calls


def test_a_token_is_verified_once_then_found(monkeypatch) -> None:
    calls = counting_decode(monkeypatch)
    token = mint_token(SECRET, "user-1", "doctor", 60)

    first, second = read_token(SECRET, token), read_token(SECRET, token)

    assert first == second and (first.user_id, first.role) == ("user-1", Role.DOCTOR)
    assert calls == [token]


def test_a_remembered_token_is_refused_once_expired() -> None:
    token = mint_token(SECRET, "user-1", "patient", 1)  # exp: the next whole second
    assert read_token(SECRET, token).user_id == "user-1"
    expires_at = jwt.decode(token, options={"verify_signature": False})["exp"]
    time.sleep(max(0.0, expires_at - time.time()) + 0.05)

    with pytest.raises(InvalidToken, match="expired"):
        read_token(SECRET, token)


def test_a_token_remembered_under_one_secret_is_refused_under_another() -> None:
    token = mint_token(SECRET, "user-1", "admin", 60)
    read_token(SECRET, token)

    with pytest.raises(InvalidToken):
        read_token(OTHER_SECRET, token)


def test_an_altered_remembered_token_is_verified_and_refused() -> None:
    token = mint_token(SECRET, "user-1", "patient", 60)
    read_token(SECRET, token)
    header, payload, signature = token.split(".")
    forged_payload = jwt.utils.base64url_encode(
        jwt.utils.base64url_decode(payload).replace(b'"patient"', b'"admin"')
    ).decode()

    with pytest.raises(InvalidToken):
        read_token(SECRET, f"{header}.{forged_payload}.{signature}")


def test_the_memory_keeps_the_most_recently_used(monkeypatch) -> None:
    monkeypatch.setattr(tokens, "VERIFIED_TOKENS", tokens._VerifiedTokens(capacity=2))
    calls = counting_decode(monkeypatch)
    a, b, c = (mint_token(SECRET, f"user-{n}", "patient", 60) for n in "abc")

    read_token(SECRET, a)
    read_token(SECRET, b)
    read_token(SECRET, a)  # a is now the most recent
    read_token(SECRET, c)  # evicts b
    read_token(SECRET, a)
    read_token(SECRET, b)

    assert calls == [a, b, c, b]
