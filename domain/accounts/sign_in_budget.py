"""Per-account budgets on signing in, whichever client addresses the attempts come from.

The per-address limit (api/middleware/rate_limit.py) slows one client down;
an attacker with many addresses is held here, per account:

- at most ``LOGIN_CODE_LIMIT`` sign-in codes are e-mailed to one address per
  hour, so "ask a new code, guess five times, repeat" runs dry; reset links and
  sign-up mails have the same cap each, so no inbox can be flooded;
- at most ``ACCOUNT_FAILURE_LIMIT`` wrong guesses (password, e-mailed code,
  TOTP or recovery code) per account per quarter hour; once they are spent,
  every attempt is refused (429) before anything is checked.

An account is named by its e-mail address, keyed-hashed (``account_key``):
the shared store holds no address. An address without an account has
budgets too, spent the same way, so a 429 says nothing about who has an
account. The budgets count in the same store and windows as every other
limit (a window starts with its first hit and is not moved by later ones).

A guess takes its unit *before* it is checked, atomically, so a thousand
guesses sent at once cannot all slip past a check-then-count; a guess that
proves its credential gives the unit back, which makes the count one of
failures. A success does not wipe the earlier failures: an attacker who
holds one factor (a doctor's password) could otherwise sign in with it
between every ten TOTP guesses and guess forever, and the owner signing in
would refill an attacker's budget. The price is that an attacker can lock
an account's sign-in for a quarter hour by spending its budget; the
account's data is safe meanwhile.

When the store does not answer, the attempt is refused (503), as the
per-address limit refuses a credential route: a lapsed limit would leave
the codes open to unlimited guessing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog

from domain.accounts.steps import normalize_email
from domain.errors import DomainError, TransientFailure, ValidationFailed
from domain.logging import exception_fields
from domain.notifications.ports import AddressValidator
from domain.rate_limits import (
    AddressMail,
    RateDecision,
    RateLimit,
    RateLimiter,
    account_failure_limit,
    account_key,
    address_mail_limit,
)
from domain.settings import Settings
from domain.timing_floor import at_least

log = structlog.get_logger(__name__)


class TooManyAttempts(DomainError):
    """Raised when an account's budget is spent: a 429 with the budget's Retry-After."""

    code = "rate_limited"

    def __init__(self, decision: RateDecision) -> None:
        super().__init__("too many attempts for this account; retry after Retry-After seconds")
        self.decision = decision


class BudgetUnavailable(TransientFailure):
    """Raised when the shared store cannot count an attempt: refused, never let through."""

    code = "rate_limiter_unavailable"


class Attempt:
    """One unit of an account's failure budget, held while a guess is checked."""

    def __init__(self, limiter: RateLimiter, rate: RateLimit) -> None:
        self._limiter = limiter
        self._rate = rate

    async def succeeded(self) -> None:
        """The guess proved its credential: the unit goes back. A store that does not answer
        now costs the account that one unit, never the sign-in."""
        try:
            await self._limiter.give_back(self._rate)
        except Exception as exc:  # any failure of the shared store
            log.warning("sign_in_budget_not_given_back", **exception_fields(exc))


async def take_attempt(address: str, *, rate_limiter: RateLimiter, settings: Settings) -> Attempt:
    """Hold a unit of the failure budget of ``address`` (canonical form) for one guess; raises
    TooManyAttempts when none is left, before the guess is checked."""
    rate = account_failure_limit(account_key(settings.jwt_secret, address))
    await _spend(rate_limiter, rate)
    return Attempt(rate_limiter, rate)


async def spend_address_mail(
    kind: AddressMail, address: str, *, rate_limiter: RateLimiter, settings: Settings
) -> None:
    """Count an e-mail of ``kind`` asked for ``address`` (a sign-in code, a reset link, a
    sign-up's mail); raises TooManyAttempts past the hour's cap, account or not."""
    rate = address_mail_limit(kind, account_key(settings.jwt_secret, address))
    await _spend(rate_limiter, rate)


async def mail_address(
    kind: AddressMail,
    email: str,
    send: Callable[[str], Awaitable[None]],
    *,
    addresses: AddressValidator,
    rate_limiter: RateLimiter,
    settings: Settings,
) -> None:
    """The shape of every "e-mail this address, if it has an account" request (a sign-in code,
    a reset link): nothing for a malformed address, the address's hourly cap, then ``send``
    with the canonical address; all of it at least ACCOUNT_EMAIL_MIN_SECONDS, so neither the
    answer nor its timing tells whether the account exists."""
    async with at_least(settings.account_email_min_seconds):
        try:
            address = normalize_email(addresses, email)
        except ValidationFailed:
            return
        await spend_address_mail(kind, address, rate_limiter=rate_limiter, settings=settings)
        await send(address)


async def _spend(rate_limiter: RateLimiter, rate: RateLimit) -> None:
    try:
        [count] = await rate_limiter.hit([rate])
    except Exception as exc:  # any failure of the shared store: refuse, see the docstring
        raise BudgetUnavailable("sign-in is briefly unavailable; retry shortly") from exc
    decision = RateDecision.of(rate, count)
    if not decision.allowed:
        raise TooManyAttempts(decision)
