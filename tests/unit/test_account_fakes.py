"""The accounts' fakes implement the very protocols the use cases are typed against: every
method of each port, with the same parameters, so a use case cannot pass its unit tests by
calling something the PostgreSQL adapters do not have."""

from __future__ import annotations

import inspect

import pytest

from domain.accounts import ports
from domain.notifications.ports import AddressValidator, EmailRenderer, EmailRepository
from domain.rate_limits import RateLimiter
from domain.sealing import Cipher
from tests.fakes import accounts, credentials, crypto, emails, rate_limiter

PAIRS = [
    (ports.UserRepository, accounts.FakeUserRepository),
    (ports.RefreshTokenRepository, accounts.FakeRefreshTokenRepository),
    (ports.OneTimeSecretRepository, accounts.FakeOneTimeSecretRepository),
    (ports.RecoveryCodeRepository, accounts.FakeRecoveryCodeRepository),
    (ports.PasswordHasher, credentials.FakePasswords),
    (ports.TotpProvider, credentials.FakeTotp),
    (RateLimiter, rate_limiter.FakeRateLimiter),
    (EmailRepository, emails.FakeEmailRepository),
    (EmailRenderer, emails.FakeRenderer),
    (AddressValidator, emails.FakeAddresses),
    (Cipher, crypto.FakeCipher),
]


def methods(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    }


@pytest.mark.parametrize(("port", "fake"), PAIRS, ids=lambda x: getattr(x, "__name__", ""))
def test_a_fake_has_every_method_of_its_port_with_the_same_parameters(port, fake) -> None:
    wanted, held = methods(port), methods(fake)
    assert wanted, f"{port.__name__} declares no methods"
    for name, signature in wanted.items():
        assert name in held, f"{fake.__name__} lacks {name}"
        assert list(held[name].parameters) == list(signature.parameters), name
        assert inspect.iscoroutinefunction(getattr(fake, name)) == inspect.iscoroutinefunction(
            getattr(port, name)
        ), name


def test_the_accounts_unit_of_work_holds_every_repository_the_port_names() -> None:
    assert set(accounts.ACCOUNT_REPOSITORIES) == set(ports.UnitOfWork.__annotations__)
