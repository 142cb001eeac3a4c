"""The composition root: the one place that chooses which adapter serves which port.

The API, the workers and the scheduler each call ``build_services`` inside
their own event loop and ``open``/``close`` it around their lifetime; nothing
here does IO at import time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, fields

from dramatiq.brokers.redis import RedisBroker
from psycopg_pool import AsyncConnectionPool

from domain.accounts.ports import PasswordHasher, TotpProvider
from domain.adapters.accounts.passwords import Argon2Passwords
from domain.adapters.accounts.totp import PyOtpTotp
from domain.adapters.advisory_lock import AdvisoryLocks
from domain.adapters.anchoring.stellar_ledger import StellarLedger
from domain.adapters.audit.log import ChainingBehindWrites
from domain.adapters.audit.partitions import PgAuditPartitions
from domain.adapters.audit.store import PgAuditStore
from domain.adapters.documents.crypto import PypdfInspector, SegmentedAesGcm
from domain.adapters.files.block_store import BlockStoreContentStore
from domain.adapters.files.ipfs_node import KuboContentStore
from domain.adapters.files.unixfs import cid_of
from domain.adapters.job_history.store import PgJobHistory
from domain.adapters.jobs.messaging import DramatiqSender, WakingRedisBroker, build_broker
from domain.adapters.jobs.store import PgJobStore
from domain.adapters.monitoring import PlatformFigures, PlatformReadiness
from domain.adapters.notifications.addresses import EmailValidatorAddresses
from domain.adapters.notifications.live import RedisLiveChannel
from domain.adapters.notifications.mailers import build_mailer
from domain.adapters.notifications.renderer import JinjaEmailRenderer
from domain.adapters.payments.bakong import BakongOpenApi
from domain.adapters.payments.qr import SegnoQr
from domain.adapters.phi.cipher import PhiCipher
from domain.adapters.postgres import create_pool
from domain.adapters.rate_limiter import RedisRateLimiter
from domain.adapters.scans.embedded import EmbeddedOcr
from domain.adapters.scans.images import PillowPages
from domain.adapters.scans.provider import HttpOcrProvider
from domain.adapters.scans.tesseract import TesseractOcr
from domain.adapters.unit_of_work import PgUnitOfWorkFactory
from domain.adapters.webhooks.signatures import StandardWebhooksVerifier
from domain.anchoring.ports import AnchorLedger
from domain.audit.ports import AuditPartitions, AuditStore
from domain.catalogue import JOB_KINDS, PAYMENT_ACTIVATIONS, WEBHOOK_ROUTES
from domain.clock import Clock, SystemClock
from domain.files.ports import ContentCipher, ContentStore, PdfInspector
from domain.job_history.ports import JobHistory
from domain.jobs.ports import ExclusiveRuns, JobStore, MessageSender
from domain.monitoring.ports import JobFigures, Readiness
from domain.notifications.ports import AddressValidator, EmailRenderer, LiveChannel, Mailer
from domain.payments.ports import PaymentNetwork, QrRenderer
from domain.rate_limits import RateLimiter
from domain.records.verification import CidOf
from domain.scans.ports import OcrEngine, OcrProvider, PageImages
from domain.sealing import Cipher
from domain.settings import Settings
from domain.transactions import UnitOfWorkFactory
from domain.webhooks.ports import SignatureVerifier
from domain.wiring import Dispatch

# What ``Services.dependencies()`` adds to its fields: tables built from the catalogue.
DERIVED_DEPENDENCIES = frozenset({"kinds", "webhook_routes", "payment_activations"})


@dataclass
class Services:
    settings: Settings
    clock: Clock
    pool: AsyncConnectionPool
    broker: RedisBroker
    store: JobStore
    uow: UnitOfWorkFactory
    audit_chaining: ChainingBehindWrites  # behind the audited writes of ``uow``
    sender: MessageSender
    renderer: EmailRenderer
    mailer: Mailer
    addresses: AddressValidator
    cipher: Cipher
    passwords: PasswordHasher
    totp: TotpProvider
    audit_store: AuditStore
    audit_partitions: AuditPartitions
    job_history: JobHistory
    rate_limiter: RateLimiter
    content: ContentStore
    ledger: AnchorLedger | None  # None: no STELLAR_SECRET_KEY, nothing is anchored
    exclusive: ExclusiveRuns
    cid_of: CidOf  # the CID of bytes, computed here as an IPFS node would
    pdf: PdfInspector
    content_cipher: ContentCipher
    figures: JobFigures
    readiness: Readiness
    live: LiveChannel
    verifier: SignatureVerifier
    network: PaymentNetwork | None  # None: no BAKONG_API_URL, nothing is polled
    qr: QrRenderer
    ocr: OcrEngine
    ocr_provider: OcrProvider | None  # OCR_ENGINE=provider: scans are read by it instead
    page_images: PageImages
    _opened: bool = field(default=False, repr=False)

    def dependencies(self) -> dict[str, object]:
        """The services by the names use cases, handlers and planners ask for them
        (domain/wiring.py); the unit-of-work factory is ``uow_factory`` there."""
        named = {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}
        named["uow_factory"] = named.pop("uow")
        named["kinds"] = JOB_KINDS
        # the handlers features register for webhook events, wired from these same services
        named["webhook_routes"] = Dispatch(WEBHOOK_ROUTES, named)
        named["payment_activations"] = Dispatch(PAYMENT_ACTIVATIONS, named)
        return named

    async def open(self, *, wait_for_database: bool = False) -> None:
        """Open the pool. A long-running process does not wait for the database: it starts,
        answers (503s, retried jobs) and connects once the database is there; a one-shot
        command (``wait_for_database``) fails at once instead."""
        if wait_for_database:
            await self.pool.open(wait=True, timeout=15.0)
        else:
            await self.pool.open(wait=False)
        self._opened = True

    async def close(self) -> None:
        if self._opened:
            await self.content.close()
            if self.ledger is not None:
                await self.ledger.close()
            if self.network is not None:
                await self.network.close()
            await self.rate_limiter.close()
            await self.sender.close()
            await self.live.close()
            await self.audit_chaining.settle()
            await self.pool.close()
            self._opened = False


def address_validator() -> AddressValidator:
    """The e-mail address check, for a command line that normalises an address itself."""
    return EmailValidatorAddresses()


def broker_for(settings: Settings) -> WakingRedisBroker:
    """The message channel a process sends on (workers build theirs with middleware)."""
    return build_broker(settings.redis_url)


def build_services(
    settings: Settings,
    broker: WakingRedisBroker,
    *,
    clock: Clock | None = None,
    pool_max_size: int | None = None,
) -> Services:
    clock = clock or SystemClock()
    pool = create_pool(
        settings.database_url,
        statement_timeout_seconds=settings.db_statement_timeout_seconds,
        max_size=pool_max_size or settings.db_pool_max_size,
    )
    cipher = PhiCipher(settings.phi_keys, settings.phi_active_key_id)
    audit_chaining = ChainingBehindWrites(pool)
    return Services(
        settings=settings,
        clock=clock,
        pool=pool,
        broker=broker,
        store=PgJobStore(pool, clock),
        uow=PgUnitOfWorkFactory(
            pool, clock, cipher, settings.request_fingerprint_key, audit_chaining
        ),
        audit_chaining=audit_chaining,
        sender=DramatiqSender.from_url(broker, settings.redis_url),
        renderer=JinjaEmailRenderer(),
        mailer=build_mailer(settings),
        addresses=EmailValidatorAddresses(),
        audit_store=PgAuditStore(pool),
        audit_partitions=PgAuditPartitions(pool),
        job_history=PgJobHistory(pool),
        rate_limiter=RedisRateLimiter.from_url(settings.redis_url),
        cipher=cipher,
        passwords=Argon2Passwords(),
        totp=PyOtpTotp(),
        content=build_content_store(settings),
        ledger=build_ledger(settings),
        exclusive=AdvisoryLocks(pool),
        cid_of=cid_of,
        pdf=PypdfInspector(),
        content_cipher=SegmentedAesGcm(),
        figures=PlatformFigures(pool, broker),
        readiness=PlatformReadiness(pool, broker),
        live=RedisLiveChannel(settings.redis_url),
        verifier=StandardWebhooksVerifier(settings.webhook_secrets),
        network=build_network(settings),
        qr=SegnoQr(),
        ocr=build_ocr(settings),
        ocr_provider=build_ocr_provider(settings),
        page_images=PillowPages(),
    )


@asynccontextmanager
async def one_shot_units_of_work(settings: Settings) -> AsyncIterator[UnitOfWorkFactory]:
    """Units of work on one connection, for a command that runs once and exits (the
    operator's command lines, the launcher's sealing step): no broker, no outside service.
    Waits a little for the database, then fails."""
    pool = create_pool(
        settings.database_url,
        statement_timeout_seconds=settings.db_statement_timeout_seconds,
        max_size=1,
    )
    cipher = PhiCipher(settings.phi_keys, settings.phi_active_key_id)
    await pool.open(wait=True, timeout=15.0)
    chaining = ChainingBehindWrites(pool)
    try:
        yield PgUnitOfWorkFactory(
            pool, SystemClock(), cipher, settings.request_fingerprint_key, chaining
        )
    finally:
        await chaining.settle()
        await pool.close()


def build_content_store(settings: Settings) -> ContentStore:
    if settings.ipfs_api_url:
        return KuboContentStore(
            settings.ipfs_api_url, timeout_seconds=settings.ipfs_timeout_seconds
        )
    return BlockStoreContentStore(settings.ipfs_dir)


def build_ocr(settings: Settings) -> OcrEngine:
    """OCR_ENGINE: the embedded engine (nothing to install), or Debian's tesseract-ocr (with
    the provider, the embedded engine is built but never loaded)."""
    if settings.ocr_engine == "tesseract":
        return TesseractOcr()
    return EmbeddedOcr()


def build_ocr_provider(settings: Settings) -> OcrProvider | None:
    """OCR_ENGINE=provider: the outside service (its URL and token checked at start)."""
    if settings.ocr_engine != "provider":
        return None
    assert settings.ocr_provider_url and settings.ocr_provider_token  # load_settings saw to it
    return HttpOcrProvider(settings.ocr_provider_url, settings.ocr_provider_token)


def build_network(settings: Settings) -> BakongOpenApi | None:
    if not settings.bakong_api_url:
        return None
    source = None
    if settings.bakong_app_icon_url and settings.bakong_deeplink_callback:
        source = {
            "appName": settings.bakong_merchant_name,
            "appIconUrl": settings.bakong_app_icon_url,
            "appDeepLinkCallback": settings.bakong_deeplink_callback,
        }
    return BakongOpenApi(
        settings.bakong_api_url,
        settings.bakong_token,
        timeout_seconds=settings.bakong_timeout_seconds,
        source=source,
    )


def build_ledger(settings: Settings) -> AnchorLedger | None:
    if not settings.stellar_secret_key:
        return None
    return StellarLedger(
        settings.stellar_secret_key,
        settings.stellar_network_passphrase,
        settings.stellar_horizon_url,
        base_fee=settings.stellar_base_fee,
        max_fee=settings.stellar_max_fee,
        timeout_seconds=settings.stellar_timeout_seconds,
    )
