"""Money as integers of the currency's minor unit (USD cents, KHR whole riel), never floats.

KHQR carries amounts as decimal text and Bakong answers with JSON numbers; both
are converted here, exactly, or refused.
"""

from __future__ import annotations

import enum
from decimal import Decimal, InvalidOperation

from domain.errors import ValidationFailed


class Currency(enum.StrEnum):
    USD = "USD"
    KHR = "KHR"

    @property
    def numeric(self) -> str:
        """ISO 4217 numeric code, as KHQR tag 53 carries it."""
        return _NUMERIC[self]

    @property
    def exponent(self) -> int:
        """Digits after the decimal point: USD has cents, KHR none."""
        return _EXPONENT[self]


_NUMERIC = {Currency.USD: "840", Currency.KHR: "116"}
_EXPONENT = {Currency.USD: 2, Currency.KHR: 0}
MAX_MINOR = 10**11  # KHQR amounts are at most 13 characters


def amount_text(minor: int, currency: Currency) -> str:
    """KHQR's amount: whole riel; dollars, with two decimals unless whole (as NBC's SDK)."""
    if not 0 < minor < MAX_MINOR:
        raise ValidationFailed("an amount must be positive and below 10^11 minor units")
    if currency.exponent == 0:
        return str(minor)
    whole, cents = divmod(minor, 100)
    return str(whole) if cents == 0 else f"{whole}.{cents:02d}"


def minor_units(value: Decimal | int | str, currency: Currency) -> int:
    """An amount in major units (``Decimal('12.50')``, ``"5000"``) as minor units; raises
    ValidationFailed when it is not a whole number of them."""
    try:
        scaled = Decimal(value) * (10**currency.exponent)
    except (InvalidOperation, ValueError):
        raise ValidationFailed("the amount is not a number") from None
    if scaled != scaled.to_integral_value():
        raise ValidationFailed(f"the amount is not a whole number of {currency.value} minor units")
    return int(scaled)
