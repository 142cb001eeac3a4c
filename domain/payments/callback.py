"""Bakong's payment callback, as the webhooks feature hands it over (a verified delivery).

The Bakong service signs a ``payment.completed`` event for a code it saw paid::

    {"type": "payment.completed",
     "data": {"md5": "...", "hash": "...", "amount": "12.50", "currency": "USD",
              "acknowledgedDateMs": 1796531420530}}

``amount`` is in major units (text or a JSON number, read exactly as written: the
webhooks feature decodes numbers as Decimal).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import msgspec

from domain.clock import Clock
from domain.errors import PermanentFailure, ValidationFailed
from domain.jobs.ports import MessageSender
from domain.notifications.ports import AddressValidator, EmailRenderer, LiveChannel
from domain.payments.confirm import record_paid
from domain.payments.model import PaidTransaction
from domain.payments.money import Currency, minor_units
from domain.payments.ports import UnitOfWork
from domain.settings import Settings
from domain.transactions import UnitOfWorkFactory
from domain.webhooks.model import WebhookEvent

BAKONG = "bakong"
PAYMENT_COMPLETED = "payment.completed"


class _Paid(msgspec.Struct, frozen=True, rename="camel"):
    md5: str
    hash: str
    amount: Decimal
    currency: Currency
    acknowledged_date_ms: int


def paid_from_callback(data: dict[str, object]) -> PaidTransaction:
    """Raises PermanentFailure for data that no retry will mend."""
    try:
        paid = msgspec.convert(data, _Paid, strict=False)
        return PaidTransaction(
            md5=paid.md5,
            hash=paid.hash,
            amount_minor=minor_units(paid.amount, paid.currency),
            currency=paid.currency,
            paid_at=datetime.fromtimestamp(paid.acknowledged_date_ms / 1000, UTC),
        )
    except (msgspec.ValidationError, ValidationFailed, ValueError, OverflowError):
        raise PermanentFailure(
            "the payment callback's data is not what Bakong sends", code="callback_invalid"
        ) from None


async def on_bakong_paid(
    event: WebhookEvent,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
    sender: MessageSender,
    live: LiveChannel,
    renderer: EmailRenderer,
    addresses: AddressValidator,
    settings: Settings,
) -> str:
    """The webhooks feature's handler of ("bakong", "payment.completed")."""
    paid = paid_from_callback(event.data)
    outcome = await record_paid(
        paid,
        "callback",
        uow_factory=uow_factory,
        clock=clock,
        sender=sender,
        live=live,
        renderer=renderer,
        addresses=addresses,
        settings=settings,
    )
    return outcome.value
