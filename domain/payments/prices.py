"""The price list: anyone signed in reads it; admins set a price (in one currency)."""

from __future__ import annotations

from domain.auditing import AuditContext, AuditEntry
from domain.errors import ValidationFailed
from domain.payments.model import Price
from domain.payments.money import MAX_MINOR
from domain.payments.ports import UnitOfWork
from domain.policies import Access
from domain.transactions import UnitOfWorkFactory


async def list_prices(
    access: Access, audit: AuditContext, *, uow_factory: UnitOfWorkFactory[UnitOfWork]
) -> list[Price]:
    access.authorize(())
    async with uow_factory(autocommit=True) as uow:
        return await uow.prices.all()


async def set_price(
    access: Access,
    audit: AuditContext,
    price: Price,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
) -> Price:
    access.authorize(())
    if not 0 < price.amount_minor < MAX_MINOR:
        raise ValidationFailed("a price is a positive number of minor units", field="amountMinor")
    async with uow_factory() as uow:
        await uow.prices.set(price)
        await uow.audit.record(
            audit,
            AuditEntry(
                action="price.set",
                resource_type="price",
                resource_id=f"{price.code}:{price.currency.value}",
                changed_fields=("amount_minor", "label"),
            ),
        )
    return price
