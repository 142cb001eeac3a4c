"""Payments and the price list in PostgreSQL, inside the caller's transaction.

A payment's money fields travel sealed as one JSON value (``details``); the
rest are plain columns the poller and the listings filter on. ``save`` is one
guarded UPDATE (``WHERE status = expected``), and the unique transaction hash
is the last word on "a transaction completes one payment".
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec
from psycopg import AsyncConnection, errors, sql

from domain.adapters.accounts.users import PgUserRepository
from domain.adapters.keyset import cut_page, newest_first_filter
from domain.errors import Conflict
from domain.payments.model import (
    Payment,
    PaymentFilter,
    PaymentPage,
    PaymentStatus,
    Price,
    Purpose,
    Review,
)
from domain.payments.money import Currency
from domain.phi.columns import PAYMENT_DETAILS
from domain.sealing import Cipher, Sealed


class _Details(msgspec.Struct, frozen=True, rename="camel"):
    amount_minor: int
    khqr: str
    paid_minor: int | None = None
    refunded_minor: int = 0
    refund_requested_minor: int = 0


def _params(payment: Payment, cipher: Cipher) -> dict[str, Any]:
    details = _Details(
        amount_minor=payment.amount_minor,
        khqr=payment.khqr,
        paid_minor=payment.paid_minor,
        refunded_minor=payment.refunded_minor,
        refund_requested_minor=payment.refund_requested_minor,
    )
    sealed = cipher.seal(msgspec.json.encode(details), PAYMENT_DETAILS.context(payment.id))
    return {
        "id": payment.id,
        "user_id": payment.user_id,
        "purpose": payment.purpose.value,
        "reference": payment.reference,
        "currency": payment.currency.value,
        "status": payment.status.value,
        "md5": payment.md5,
        "blob": sealed.blob,
        "key": sealed.key_id,
        "expires_at": payment.expires_at,
        "created_at": payment.created_at,
        "updated_at": payment.updated_at,
        "completed_at": payment.completed_at,
        "hash": payment.transaction_hash,
        "paid_currency": payment.paid_currency.value if payment.paid_currency else None,
        "review": payment.review.value if payment.review else None,
        "checks": payment.checks,
        "next_check_at": payment.next_check_at,
    }


class PgPaymentRepository:
    def __init__(self, conn: AsyncConnection, cipher: Cipher) -> None:
        self._conn = conn
        self._cipher = cipher

    def _payment(self, row: dict[str, Any]) -> Payment:
        sealed = Sealed(key_id=row["details_key_id"], blob=bytes(row["details_sealed"]))
        details = msgspec.json.decode(
            self._cipher.open(sealed, PAYMENT_DETAILS.context(row["id"])), type=_Details
        )
        return Payment(
            id=row["id"],
            user_id=row["user_id"],
            purpose=Purpose(row["purpose"]),
            reference=row["reference"],
            currency=Currency(row["currency"]),
            amount_minor=details.amount_minor,
            status=PaymentStatus(row["status"]),
            khqr=details.khqr,
            md5=row["md5"],
            expires_at=row["expires_at"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            completed_at=row["completed_at"],
            transaction_hash=row["transaction_hash"],
            paid_minor=details.paid_minor,
            paid_currency=Currency(row["paid_currency"]) if row["paid_currency"] else None,
            review=Review(row["review"]) if row["review"] else None,
            refunded_minor=details.refunded_minor,
            refund_requested_minor=details.refund_requested_minor,
            checks=row["checks"],
            next_check_at=row["next_check_at"],
        )

    async def _rows(self, query: str | sql.Composable, params: Any) -> list[Payment]:
        cursor = await self._conn.execute(query, params)
        return [self._payment(row) for row in await cursor.fetchall()]

    async def add(self, payment: Payment) -> None:
        await self._conn.execute(
            """
            INSERT INTO payments (id, user_id, purpose, reference, currency, status, md5,
                                  details_sealed, details_key_id, expires_at, created_at,
                                  updated_at, completed_at, transaction_hash, paid_currency,
                                  review, checks, next_check_at)
            VALUES (%(id)s, %(user_id)s, %(purpose)s, %(reference)s, %(currency)s, %(status)s,
                    %(md5)s, %(blob)s, %(key)s, %(expires_at)s, %(created_at)s, %(updated_at)s,
                    %(completed_at)s, %(hash)s, %(paid_currency)s, %(review)s, %(checks)s,
                    %(next_check_at)s)
            """,
            _params(payment, self._cipher),
        )

    async def get(self, payment_id: uuid.UUID, *, lock: bool = False) -> Payment | None:
        found = await self._rows(
            "SELECT * FROM payments WHERE id = %s" + (" FOR UPDATE" if lock else ""), (payment_id,)
        )
        return found[0] if found else None

    async def by_md5(self, md5: str, *, lock: bool = False) -> Payment | None:
        found = await self._rows(
            "SELECT * FROM payments WHERE md5 = %s" + (" FOR UPDATE" if lock else ""), (md5,)
        )
        return found[0] if found else None

    async def save(self, payment: Payment, expected: PaymentStatus) -> bool:
        params = _params(payment, self._cipher) | {"expected": expected.value}
        try:
            cursor = await self._conn.execute(
                """
                UPDATE payments
                SET status = %(status)s, details_sealed = %(blob)s, details_key_id = %(key)s,
                    updated_at = %(updated_at)s, completed_at = %(completed_at)s,
                    transaction_hash = %(hash)s, paid_currency = %(paid_currency)s,
                    review = %(review)s, checks = %(checks)s, next_check_at = %(next_check_at)s
                WHERE id = %(id)s AND status = %(expected)s
                """,
                params,
            )
        except errors.UniqueViolation:
            raise Conflict(
                "this transaction already completed another payment", code="transaction_claimed"
            ) from None
        return cursor.rowcount == 1

    async def due_for_check(self, now: datetime, limit: int) -> list[Payment]:
        return await self._rows(
            """
            SELECT * FROM payments
            WHERE status = 'pending' AND next_check_at <= %(now)s AND expires_at > %(now)s
            ORDER BY next_check_at LIMIT %(limit)s
            """,
            {"now": now, "limit": limit},
        )

    async def lapsed(self, now: datetime, limit: int) -> list[Payment]:
        return await self._rows(
            """
            SELECT * FROM payments WHERE status = 'pending' AND expires_at <= %(now)s
            ORDER BY expires_at LIMIT %(limit)s
            """,
            {"now": now, "limit": limit},
        )

    async def completed_between(self, start: datetime, end: datetime) -> list[Payment]:
        return await self._rows(
            """
            SELECT * FROM payments
            WHERE completed_at >= %s AND completed_at < %s ORDER BY completed_at
            """,
            (start, end),
        )

    async def page(self, query: PaymentFilter) -> PaymentPage:
        params: dict[str, Any] = {"limit": query.limit + 1}
        clauses: list[sql.Composable] = []
        for column, value, op in (
            ("user_id", query.user_id, "="),
            ("status", query.status.value if query.status else None, "="),
            ("created_at", query.created_from, ">="),
            ("created_at", query.created_to, "<"),
        ):
            if value is not None:
                name = f"p_{len(params)}"
                params[name] = value
                clauses.append(
                    sql.SQL("p.{} {} {}").format(
                        sql.Identifier(column), sql.SQL(op), sql.Placeholder(name)
                    )
                )
        matching = sql.SQL(" AND ").join(clauses) if clauses else sql.SQL("TRUE")
        # totals over everything the filter matches, not one page: amounts are sealed, so
        # they are opened and summed here (a report's reach, not a hot path)
        every = await self._rows(
            sql.SQL("SELECT * FROM payments p WHERE {}").format(matching), params
        )
        totals: dict[str, int] = {}
        for payment in every:
            totals[payment.currency.value] = totals.get(payment.currency.value, 0) + (
                payment.amount_minor
            )
        paged = clauses + newest_first_filter(query.cursor, "p", params)
        rows = await self._rows(
            sql.SQL(
                "SELECT * FROM payments p WHERE {} ORDER BY p.created_at DESC, p.id DESC"
                " LIMIT %(limit)s"
            ).format(sql.SQL(" AND ").join(paged) if paged else sql.SQL("TRUE")),
            params,
        )
        items, next_cursor = cut_page(rows, query.limit)
        return PaymentPage(items=items, next_cursor=next_cursor, totals=totals)


class PgPriceList:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    @staticmethod
    def _price(row: dict[str, Any]) -> Price:
        return Price(
            code=row["code"],
            currency=Currency(row["currency"]),
            amount_minor=row["amount_minor"],
            label=row["label"],
        )

    async def price(self, code: str, currency: Currency) -> Price | None:
        cursor = await self._conn.execute(
            "SELECT * FROM prices WHERE code = %s AND currency = %s", (code, currency.value)
        )
        row = await cursor.fetchone()
        return self._price(row) if row else None

    async def all(self) -> list[Price]:
        cursor = await self._conn.execute("SELECT * FROM prices ORDER BY code, currency")
        return [self._price(row) for row in await cursor.fetchall()]

    async def set(self, price: Price) -> None:
        await self._conn.execute(
            """
            INSERT INTO prices (code, currency, amount_minor, label)
            VALUES (%s, %s, %s, %s)
            ON CONFLICT (code, currency)
            DO UPDATE SET amount_minor = excluded.amount_minor, label = excluded.label
            """,
            (price.code, price.currency.value, price.amount_minor, price.label),
        )


class PgPayers:
    def __init__(self, conn: AsyncConnection, users: PgUserRepository) -> None:
        self._conn = conn
        self._users = users

    async def contact(self, user_id: uuid.UUID) -> tuple[str, str] | None:
        user = await self._users.get(user_id)
        return (user.name, user.email) if user else None

    async def consultation_fee(self, doctor_id: uuid.UUID) -> tuple[int, Currency] | None:
        cursor = await self._conn.execute(
            """
            SELECT d.consultation_fee_cents, d.currency FROM doctor_profiles d
            JOIN users u ON u.id = d.user_id
            WHERE d.user_id = %s AND u.status = 'active'
            """,
            (doctor_id,),
        )
        row = await cursor.fetchone()
        if row is None:
            return None
        return row["consultation_fee_cents"], Currency(row["currency"])

    async def admin_ids(self) -> list[uuid.UUID]:
        cursor = await self._conn.execute(
            "SELECT id FROM users WHERE role = 'admin' AND status = 'active' ORDER BY id"
        )
        return [row["id"] for row in await cursor.fetchall()]
