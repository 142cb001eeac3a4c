"""Where payments and prices are kept, and the outside systems payments talk to."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from domain.auditing import AuditLog
from domain.jobs.ports import JobRepository
from domain.notifications.ports import EmailRepository, NoticeRepository
from domain.payments.model import (
    PaidTransaction,
    Payment,
    PaymentFilter,
    PaymentPage,
    PaymentStatus,
    Price,
)
from domain.payments.money import Currency

CHECK_BATCH = 50  # Bakong's check_transaction_by_md5_list takes at most 50 MD5s


class PaymentRepository(Protocol):
    """Payments inside one transaction; what they say about money is sealed at rest.

    ``save`` is a guarded write: it stores ``payment`` only if the row is still in
    ``expected`` and returns False otherwise. A transaction hash is unique: a second
    payment claiming it raises Conflict.
    """

    async def add(self, payment: Payment) -> None: ...

    async def get(self, payment_id: uuid.UUID, *, lock: bool = False) -> Payment | None: ...

    async def by_md5(self, md5: str, *, lock: bool = False) -> Payment | None: ...

    async def save(self, payment: Payment, expected: PaymentStatus) -> bool: ...

    async def due_for_check(self, now: datetime, limit: int) -> list[Payment]:
        """Pending payments whose next check is due, soonest first."""
        ...

    async def lapsed(self, now: datetime, limit: int) -> list[Payment]:
        """Pending payments whose code has expired."""
        ...

    async def completed_between(self, start: datetime, end: datetime) -> list[Payment]: ...

    async def page(self, query: PaymentFilter) -> PaymentPage: ...


class PriceList(Protocol):
    async def price(self, code: str, currency: Currency) -> Price | None: ...

    async def all(self) -> list[Price]: ...

    async def set(self, price: Price) -> None: ...


class Payers(Protocol):
    """What payments ask of accounts: a doctor's consultation fee, and who the admins are."""

    async def consultation_fee(self, doctor_id: uuid.UUID) -> tuple[int, Currency] | None: ...

    async def admin_ids(self) -> list[uuid.UUID]: ...

    async def contact(self, user_id: uuid.UUID) -> tuple[str, str] | None:
        """(name, e-mail address) of an account, for its receipts."""
        ...


class PaymentNetwork(Protocol):
    """Bakong's Open API: which of these codes (by MD5) were paid, and how.

    Raises TransientFailure when Bakong cannot answer now (down, slow, refusing this
    caller), PermanentFailure when it refuses our token.
    """

    async def check(self, md5: str) -> PaidTransaction | None: ...

    async def check_many(self, md5s: Sequence[str]) -> dict[str, PaidTransaction]:
        """At most ``CHECK_BATCH`` MD5s; the paid ones, by MD5."""
        ...

    async def deeplink(self, qr: str) -> str | None:
        """A short link that opens a Bakong app on the code; None when none is configured."""
        ...


class QrRenderer(Protocol):
    def png(self, text: str) -> bytes: ...

    def svg(self, text: str) -> bytes: ...


class UnitOfWork(Protocol):
    """What the payments feature reads and writes in one database transaction."""

    payments: PaymentRepository
    prices: PriceList
    payers: Payers
    notices: NoticeRepository
    emails: EmailRepository
    audit: AuditLog
    jobs: JobRepository
