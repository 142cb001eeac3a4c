"""The composition root: the one place that chooses which adapter serves which port.

The API, the workers and the scheduler each call ``build_services`` inside
their own event loop and ``open``/``close`` it around their lifetime; nothing
here does IO at import time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dramatiq.brokers.redis import RedisBroker
from psycopg_pool import AsyncConnectionPool

from domain.adapters.email_address import EmailValidatorAddresses
from domain.adapters.email_templates import JinjaEmailRenderer
from domain.adapters.job_store import PgJobStore
from domain.adapters.mailers import build_mailer
from domain.adapters.messaging import DramatiqSender
from domain.adapters.phi_cipher import PhiCipher
from domain.adapters.postgres import create_pool
from domain.adapters.unit_of_work import PgUnitOfWorkFactory
from domain.clock import Clock, SystemClock
from domain.ports import (
    AddressValidator,
    Cipher,
    EmailRenderer,
    JobStore,
    Mailer,
    MessageSender,
    UnitOfWorkFactory,
)
from domain.settings import Settings


@dataclass
class Services:
    settings: Settings
    clock: Clock
    pool: AsyncConnectionPool
    broker: RedisBroker
    store: JobStore
    uow: UnitOfWorkFactory
    sender: MessageSender
    renderer: EmailRenderer
    mailer: Mailer
    addresses: AddressValidator
    cipher: Cipher
    _opened: bool = field(default=False, repr=False)

    async def open(self) -> None:
        await self.pool.open(wait=True, timeout=15.0)
        self._opened = True

    async def close(self) -> None:
        if self._opened:
            await self.pool.close()
            self._opened = False


def build_services(
    settings: Settings,
    broker: RedisBroker,
    *,
    clock: Clock | None = None,
    pool_max_size: int | None = None,
) -> Services:
    clock = clock or SystemClock()
    pool = create_pool(settings.database_url, max_size=pool_max_size or settings.db_pool_max_size)
    return Services(
        settings=settings,
        clock=clock,
        pool=pool,
        broker=broker,
        store=PgJobStore(pool, clock),
        uow=PgUnitOfWorkFactory(pool, clock),
        sender=DramatiqSender(broker),
        renderer=JinjaEmailRenderer(),
        mailer=build_mailer(settings),
        addresses=EmailValidatorAddresses(),
        cipher=PhiCipher(settings.phi_keys, settings.phi_active_key_id),
    )
