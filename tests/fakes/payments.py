"""Payments in memory: the repository of a transaction (with the unique MD5 and transaction
hash of the real table), the price list, the payers, and a Bakong that answers from a dict."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from domain.clock import Clock
from domain.errors import Conflict
from domain.payments.model import (
    PaidTransaction,
    Payment,
    PaymentFilter,
    PaymentPage,
    PaymentStatus,
    Price,
)
from domain.payments.money import Currency
from tests.fakes.database import FakeDatabase


class FakePaymentRepository:
    def __init__(self, database: FakeDatabase, clock: Clock) -> None:
        self._rows: dict[uuid.UUID, Payment] = database.table("payments")

    async def add(self, payment: Payment) -> None:
        if any(p.md5 == payment.md5 for p in self._rows.values()):
            raise Conflict("md5 taken")
        self._rows[payment.id] = payment

    async def get(self, payment_id: uuid.UUID, *, lock: bool = False) -> Payment | None:
        return self._rows.get(payment_id)

    async def by_md5(self, md5: str, *, lock: bool = False) -> Payment | None:
        return next((p for p in self._rows.values() if p.md5 == md5), None)

    async def save(self, payment: Payment, expected: PaymentStatus) -> bool:
        if self._rows[payment.id].status is not expected:
            return False
        if payment.transaction_hash is not None and any(
            p.transaction_hash == payment.transaction_hash and p.id != payment.id
            for p in self._rows.values()
        ):
            raise Conflict("this transaction already completed another payment")
        self._rows[payment.id] = payment
        return True

    async def due_for_check(self, now: datetime, limit: int) -> list[Payment]:
        due = [
            p
            for p in self._rows.values()
            if p.status is PaymentStatus.PENDING
            and p.next_check_at is not None
            and p.next_check_at <= now < p.expires_at
        ]
        return sorted(due, key=lambda p: p.next_check_at or now)[:limit]

    async def lapsed(self, now: datetime, limit: int) -> list[Payment]:
        found = [
            p
            for p in self._rows.values()
            if p.status is PaymentStatus.PENDING and p.expires_at <= now
        ]
        return found[:limit]

    async def completed_between(self, start: datetime, end: datetime) -> list[Payment]:
        return [p for p in self._rows.values() if p.completed_at and start <= p.completed_at < end]

    async def page(self, query: PaymentFilter) -> PaymentPage:
        found = [
            p
            for p in sorted(self._rows.values(), key=lambda p: (p.created_at, p.id), reverse=True)
            if query.user_id in (None, p.user_id) and query.status in (None, p.status)
        ]
        totals: dict[str, int] = {}
        for p in found:
            totals[p.currency.value] = totals.get(p.currency.value, 0) + p.amount_minor
        return PaymentPage(items=found[: query.limit], next_cursor=None, totals=totals)


class FakePriceList:
    def __init__(self, database: FakeDatabase, clock: Clock) -> None:
        self._prices: dict[tuple[str, Currency], Price] = database.table("prices")
        if not self._prices:
            for currency, amount in ((Currency.USD, 500), (Currency.KHR, 20000)):
                self._prices[("basic-monthly", currency)] = Price(
                    code="basic-monthly", currency=currency, amount_minor=amount, label="Basic"
                )

    async def price(self, code: str, currency: Currency) -> Price | None:
        return self._prices.get((code, currency))

    async def all(self) -> list[Price]:
        return list(self._prices.values())

    async def set(self, price: Price) -> None:
        self._prices[(price.code, price.currency)] = price


class FakePayers:
    """Doctors' fees and admins as the tests put them in the ``fees`` and ``admins`` tables."""

    def __init__(self, database: FakeDatabase, clock: Clock) -> None:
        self._fees: dict[uuid.UUID, tuple[int, Currency]] = database.table("fees")
        self._admins: dict[uuid.UUID, bool] = database.table("admins")
        self._contacts: dict[uuid.UUID, tuple[str, str]] = database.table("contacts")

    async def consultation_fee(self, doctor_id: uuid.UUID) -> tuple[int, Currency] | None:
        return self._fees.get(doctor_id)

    async def admin_ids(self) -> list[uuid.UUID]:
        return sorted(self._admins)

    async def contact(self, user_id: uuid.UUID) -> tuple[str, str] | None:
        return self._contacts.get(user_id)


class FakeBakong:
    """Bakong's Open API as a dict of paid transactions by MD5; counts the calls."""

    def __init__(self) -> None:
        self.paid: dict[str, PaidTransaction] = {}
        self.calls = 0

    async def check(self, md5: str) -> PaidTransaction | None:
        self.calls += 1
        return self.paid.get(md5)

    async def check_many(self, md5s: Sequence[str]) -> dict[str, PaidTransaction]:
        assert 0 < len(md5s) <= 50
        self.calls += 1
        return {md5: self.paid[md5] for md5 in md5s if md5 in self.paid}

    async def deeplink(self, qr: str) -> str | None:
        return None


class FakeQr:
    def png(self, text: str) -> bytes:
        return b"\x89PNG" + text.encode()

    def svg(self, text: str) -> bytes:
        return f"<svg>{text}</svg>".encode()
