"""Dynamic KHQR codes, encoded here: EMVCo tag-length-value as NBC's KHQR specification has it.

A code is ``00`` payload format (01), ``01`` point of initiation (12: dynamic),
``29`` the individual Bakong account (sub-tag ``00``), ``52`` merchant category
(5999), ``53`` currency (840 USD, 116 KHR), ``54`` amount, ``58`` country (KH),
``59`` merchant name (<= 25), ``60`` city (<= 15), ``62`` additional data (sub-tag
``01`` bill number, <= 25), ``99`` timestamps (sub-tags ``00`` created and ``01``
expires, 13-digit milliseconds), then ``63`` CRC-16/CCITT-FALSE (poly 0x1021,
init 0xFFFF) over everything before it including ``6304``, as 4 upper-case hex
digits. Bakong identifies a payment by the MD5 of the whole code. Lengths are
counted in characters; every value here is ASCII, so characters are bytes.
"""

from __future__ import annotations

import hashlib
import uuid

import msgspec

from domain.errors import ValidationFailed
from domain.payments.money import Currency, amount_text

BILL_NUMBER_LENGTH = 25  # a UUID in base 36 fits exactly: 36**25 > 2**128
_BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
LIMITS = {"account": 32, "name": 25, "city": 15, "bill": BILL_NUMBER_LENGTH}


class KhqrRequest(msgspec.Struct, frozen=True, kw_only=True):
    account_id: str  # the Bakong account paid into, name@bank
    merchant_name: str
    merchant_city: str
    currency: Currency
    amount_minor: int
    bill_number: str
    created_ms: int
    expires_ms: int


def tlv(tag: str, value: str) -> str:
    if len(value) > 99:
        raise ValidationFailed(f"KHQR tag {tag} holds at most 99 characters")
    return f"{tag}{len(value):02d}{value}"


def crc16(text: str) -> str:
    """CRC-16/CCITT-FALSE of ``text`` as 4 upper-case hex digits."""
    crc = 0xFFFF
    for byte in text.encode("ascii"):
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return f"{crc:04X}"


def bill_number(payment_id: uuid.UUID) -> str:
    """A payment's id as a KHQR bill number: base 36, 25 characters, reversible."""
    digits, number = [], payment_id.int
    while number:
        number, digit = divmod(number, 36)
        digits.append(_BASE36[digit])
    return "".join(reversed(digits)).rjust(BILL_NUMBER_LENGTH, "0")


def payment_id_of(bill: str) -> uuid.UUID:
    return uuid.UUID(int=int(bill, 36))


def _checked(what: str, value: str) -> str:
    if not value or len(value) > LIMITS[what] or not (value.isascii() and value.isprintable()):
        raise ValidationFailed(
            f"the KHQR {what} must be 1-{LIMITS[what]} printable ASCII characters"
        )
    return value


def encode(request: KhqrRequest) -> str:
    if "@" not in request.account_id:
        raise ValidationFailed("a Bakong account id is name@bank")
    if not 10**12 <= request.created_ms < request.expires_ms < 10**13:
        raise ValidationFailed("a dynamic KHQR needs 13-digit timestamps, expiring after creation")
    body = "".join(
        (
            tlv("00", "01"),
            tlv("01", "12"),
            tlv("29", tlv("00", _checked("account", request.account_id))),
            tlv("52", "5999"),
            tlv("53", request.currency.numeric),
            tlv("54", amount_text(request.amount_minor, request.currency)),
            tlv("58", "KH"),
            tlv("59", _checked("name", request.merchant_name)),
            tlv("60", _checked("city", request.merchant_city)),
            tlv("62", tlv("01", _checked("bill", request.bill_number))),
            tlv("99", tlv("00", str(request.created_ms)) + tlv("01", str(request.expires_ms))),
        )
    )
    unchecked = body + "6304"
    return unchecked + crc16(unchecked)


def md5_of(code: str) -> str:
    """How Bakong names a payment: the hex MD5 of the whole code."""
    return hashlib.md5(code.encode("ascii"), usedforsecurity=False).hexdigest()


def fields(code: str) -> dict[str, str]:
    """The top-level tags of a code (their values as text), for checks; raises ValueError."""
    found: dict[str, str] = {}
    at = 0
    while at < len(code):
        tag, length = code[at : at + 2], code[at + 2 : at + 4]
        if len(length) != 2 or not length.isdigit():
            raise ValueError("not a TLV string")
        value = code[at + 4 : at + 4 + int(length)]
        if len(value) != int(length):
            raise ValueError("a value runs past the end")
        found[tag] = value
        at += 4 + int(length)
    return found


def crc_holds(code: str) -> bool:
    return len(code) > 8 and code[-8:-4] == "6304" and crc16(code[:-4]) == code[-4:]
