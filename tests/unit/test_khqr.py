"""The KHQR encoder's rules without IO: CRC-16/CCITT-FALSE, amounts in minor units, bill numbers,
tag lengths and limits. (Every generated code is also checked by NBC's own decoder:
tests/integration/test_payments.py, test_khqr_decoder.py.)"""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from domain.errors import ValidationFailed
from domain.payments import khqr
from domain.payments.money import Currency, amount_text, minor_units

START_MS = 1_796_531_420_530


def request(**changes) -> khqr.KhqrRequest:
    fields = dict(
        account_id="healthplat@aclb",
        merchant_name="Healthplat",
        merchant_city="Phnom Penh",
        currency=Currency.USD,
        amount_minor=1250,
        bill_number=khqr.bill_number(uuid.UUID(int=7)),
        created_ms=START_MS,
        expires_ms=START_MS + 900_000,
    )
    return khqr.KhqrRequest(**{**fields, **changes})


def test_crc16_ccitt_false_check_value() -> None:
    assert khqr.crc16("123456789") == "29B1"  # the catalogued check value of CRC-16/CCITT-FALSE


@pytest.mark.parametrize(
    "minor, currency, text",
    [
        (1250, Currency.USD, "12.50"),
        (500, Currency.USD, "5"),
        (1, Currency.USD, "0.01"),
        (40000, Currency.KHR, "40000"),
    ],
)
def test_amounts_are_exact_text_both_ways(minor: int, currency: Currency, text: str) -> None:
    assert amount_text(minor, currency) == text
    assert minor_units(text, currency) == minor
    assert minor_units(Decimal(text), currency) == minor


def test_an_amount_that_is_not_whole_minor_units_is_refused() -> None:
    with pytest.raises(ValidationFailed):
        minor_units("12.505", Currency.USD)
    with pytest.raises(ValidationFailed):
        minor_units("100.5", Currency.KHR)
    with pytest.raises(ValidationFailed):
        amount_text(0, Currency.USD)


def test_a_bill_number_is_the_payment_id_in_25_characters() -> None:
    for payment_id in (uuid.UUID(int=0), uuid.UUID(int=2**128 - 1), uuid.uuid4()):
        bill = khqr.bill_number(payment_id)
        assert len(bill) == 25 and khqr.payment_id_of(bill) == payment_id


def test_a_code_is_tags_in_order_with_its_crc_over_everything_before() -> None:
    code = khqr.encode(request())
    tags = khqr.fields(code)
    assert list(tags) == ["00", "01", "29", "52", "53", "54", "58", "59", "60", "62", "99", "63"]
    assert (tags["01"], tags["53"], tags["54"], tags["58"]) == ("12", "840", "12.50", "KH")
    assert khqr.fields(tags["99"]) == {"00": str(START_MS), "01": str(START_MS + 900_000)}
    assert khqr.crc_holds(code)
    assert not khqr.crc_holds(code.replace("12.50", "12.51"))
    assert khqr.md5_of(code) == khqr.md5_of(khqr.encode(request()))


@pytest.mark.parametrize(
    "changes",
    [
        {"merchant_name": "N" * 26},
        {"merchant_city": "C" * 16},
        {"merchant_name": "Kh\u00e9mara"},
        {"account_id": "no-bank"},
        {"expires_ms": START_MS},
        {"created_ms": 12345},
    ],
)
def test_what_kqhr_does_not_allow_is_refused(changes) -> None:
    with pytest.raises(ValidationFailed):
        khqr.encode(request(**changes))
