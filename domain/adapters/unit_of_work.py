"""One PostgreSQL transaction with the repositories that write inside it.

Repositories that keep PHI whole in their domain objects (e-mails; users'
names and addresses, through ``UserIdentity``) seal and open it themselves,
with the cipher given here. The factory holds the one ``UserIdentity`` of its
database, so the lookup key is opened once per process, not per transaction.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import cached_property

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from domain.adapters.accounts.credentials import (
    PgOneTimeSecretRepository,
    PgRecoveryCodeRepository,
    PgRefreshTokenRepository,
)
from domain.adapters.accounts.identity import UserIdentity
from domain.adapters.accounts.lookup_keys import LookupKeys
from domain.adapters.accounts.users import PgUserRepository
from domain.adapters.adherence.store import PgAdherenceStore
from domain.adapters.alerts.rules import PgCareTeam, PgRuleOverrides
from domain.adapters.alerts.store import PgAlertRepository
from domain.adapters.anchoring.store import PgAnchorBatchRepository
from domain.adapters.audit.log import ChainingBehindWrites, PgAuditLog
from domain.adapters.availability.store import PgBusyTimes, PgCalendarRepository, PgDoctorFinder
from domain.adapters.connections.store import PgConnectionRepository
from domain.adapters.consultations.store import PgConsultationRepository
from domain.adapters.doses.store import PgDoseRepository, PgTimeZones
from domain.adapters.files.patient_files import PgPatientFiles, files_by_table
from domain.adapters.files.uploads import PgUploadRepository
from domain.adapters.jobs.store import PgJobRepository
from domain.adapters.medicines.store import PgMedicineRepository
from domain.adapters.notifications.emails import PgEmailRepository
from domain.adapters.notifications.notices import PgNoticeRepository
from domain.adapters.patients.doctors import PgDoctorDirectory
from domain.adapters.patients.store import PgPatientRepository
from domain.adapters.payments.store import PgPayers, PgPaymentRepository, PgPriceList
from domain.adapters.phi.sealed_values import PgSealedValues
from domain.adapters.postgres import pooled
from domain.adapters.prescriptions.batches import PgPrescriptionBatchRepository
from domain.adapters.prescriptions.store import PgPrescriptionRepository
from domain.adapters.records.store import PgRecordRepository
from domain.adapters.scans.provider_requests import PgProviderRequests
from domain.adapters.scans.readings import PgScanReadings
from domain.adapters.scans.usage import PgScanUsage
from domain.adapters.subscriptions.store import PgPlanRepository, PgSubscriptionRepository
from domain.adapters.vitals.store import PgReadingRepository
from domain.adapters.webhooks.store import PgDeliveryRepository
from domain.clock import Clock
from domain.documents.kind import DOCUMENTS
from domain.scans.kind import SCANS
from domain.sealing import Cipher


class PgUnitOfWork:
    """The repositories of one transaction, each built on first use: a transaction touches a
    few of some forty, and the request path opens one per command."""

    def __init__(
        self,
        conn: AsyncConnection,
        clock: Clock,
        cipher: Cipher,
        request_key: bytes,
        identity: UserIdentity,
        *,
        autocommit: bool = False,
    ) -> None:
        self.connection = conn
        self._clock = clock
        self._cipher = cipher
        self._request_key = request_key
        self._identity = identity
        self._autocommit = autocommit

    @cached_property
    def jobs(self) -> PgJobRepository:
        return PgJobRepository(self.connection, self._clock, self._request_key)

    @cached_property
    def emails(self) -> PgEmailRepository:
        return PgEmailRepository(self.connection, self._clock, self._cipher)

    @cached_property
    def notices(self) -> PgNoticeRepository:
        return PgNoticeRepository(self.connection, self._clock, self._cipher)

    @cached_property
    def audit(self) -> PgAuditLog:
        # Without a transaction, the events are held and written as the block ends well.
        return PgAuditLog(self.connection, self._clock, held=self._autocommit)

    @cached_property
    def users(self) -> PgUserRepository:
        return PgUserRepository(self.connection, self._identity)

    @cached_property
    def refresh_tokens(self) -> PgRefreshTokenRepository:
        return PgRefreshTokenRepository(self.connection)

    @cached_property
    def secrets(self) -> PgOneTimeSecretRepository:
        return PgOneTimeSecretRepository(self.connection)

    @cached_property
    def recovery_codes(self) -> PgRecoveryCodeRepository:
        return PgRecoveryCodeRepository(self.connection)

    @cached_property
    def sealed(self) -> PgSealedValues:
        return PgSealedValues(self.connection)

    @cached_property
    def connections(self) -> PgConnectionRepository:
        return PgConnectionRepository(self.connection, self._identity)

    @cached_property
    def patients(self) -> PgPatientRepository:
        return PgPatientRepository(self.connection, self._identity)

    @cached_property
    def doctors(self) -> PgDoctorDirectory:
        return PgDoctorDirectory(self.connection, self._identity)

    @cached_property
    def uploads(self) -> PgUploadRepository:
        return PgUploadRepository(self.connection)

    @cached_property
    def records(self) -> PgRecordRepository:
        return PgRecordRepository(self.connection)

    @cached_property
    def anchors(self) -> PgAnchorBatchRepository:
        return PgAnchorBatchRepository(self.connection)

    @cached_property
    def documents(self) -> PgPatientFiles:
        return PgPatientFiles(self.connection, DOCUMENTS)

    @cached_property
    def scans(self) -> PgPatientFiles:
        return PgPatientFiles(self.connection, SCANS)

    @cached_property
    def scan_readings(self) -> PgScanReadings:
        return PgScanReadings(self.connection, self._cipher)

    @cached_property
    def scan_usage(self) -> PgScanUsage:
        return PgScanUsage(self.connection)

    @cached_property
    def scan_provider_requests(self) -> PgProviderRequests:
        return PgProviderRequests(self.connection)

    @cached_property
    def medicines(self) -> PgMedicineRepository:
        return PgMedicineRepository(self.connection)

    @cached_property
    def prescriptions(self) -> PgPrescriptionRepository:
        return PgPrescriptionRepository(self.connection, self._cipher)

    @cached_property
    def prescription_batches(self) -> PgPrescriptionBatchRepository:
        return PgPrescriptionBatchRepository(self.connection, self._cipher)

    @cached_property
    def doses(self) -> PgDoseRepository:
        return PgDoseRepository(self.connection, self._cipher)

    @cached_property
    def time_zones(self) -> PgTimeZones:
        return PgTimeZones(self.connection)

    @cached_property
    def files(self) -> dict[str, PgPatientFiles]:
        """Every kind of patient file, by its table."""
        return files_by_table(self.records, self.documents, self.scans)

    @cached_property
    def adherence(self) -> PgAdherenceStore:
        return PgAdherenceStore(self.connection)

    @cached_property
    def readings(self) -> PgReadingRepository:
        return PgReadingRepository(self.connection, self._cipher)

    @cached_property
    def alerts(self) -> PgAlertRepository:
        return PgAlertRepository(self.connection, self._clock)

    @cached_property
    def alert_rules(self) -> PgRuleOverrides:
        return PgRuleOverrides(self.connection, self._clock)

    @cached_property
    def care_team(self) -> PgCareTeam:
        return PgCareTeam(self.connection)

    @cached_property
    def deliveries(self) -> PgDeliveryRepository:
        return PgDeliveryRepository(self.connection, self._cipher)

    @cached_property
    def payments(self) -> PgPaymentRepository:
        return PgPaymentRepository(self.connection, self._cipher)

    @cached_property
    def prices(self) -> PgPriceList:
        return PgPriceList(self.connection)

    @cached_property
    def payers(self) -> PgPayers:
        return PgPayers(self.connection, self.users)

    @cached_property
    def plans(self) -> PgPlanRepository:
        return PgPlanRepository(self.connection)

    @cached_property
    def subscriptions(self) -> PgSubscriptionRepository:
        return PgSubscriptionRepository(self.connection)

    @cached_property
    def calendars(self) -> PgCalendarRepository:
        return PgCalendarRepository(self.connection)

    @cached_property
    def busy_times(self) -> PgBusyTimes:
        return PgBusyTimes(self.connection)

    @cached_property
    def doctor_finder(self) -> PgDoctorFinder:
        return PgDoctorFinder(self.connection)

    @cached_property
    def consultations(self) -> PgConsultationRepository:
        return PgConsultationRepository(self.connection, self._cipher)


class PgUnitOfWorkFactory:
    """Calling it opens a transaction; leaving the block commits, an exception rolls back.
    After a commit that recorded audit events, their linking into the chain is asked of
    ``chaining``, and runs behind the caller (domain/adapters/audit/log.py).

    ``autocommit=True`` (domain/transactions.py) opens none: each statement commits by
    itself. The audit events the block records are held, and written in one statement
    when it ends without an error, as its commit would have kept them.
    """

    def __init__(
        self,
        pool: AsyncConnectionPool,
        clock: Clock,
        cipher: Cipher,
        request_key: bytes,
        chaining: ChainingBehindWrites,
    ) -> None:
        self._pool = pool
        self._clock = clock
        self._cipher = cipher
        self._request_key = request_key
        self._identity = UserIdentity(cipher, LookupKeys(cipher, pool.conninfo, pool.kwargs))
        self._chaining = chaining

    def __call__(self, *, autocommit: bool = False) -> AbstractAsyncContextManager[PgUnitOfWork]:
        return self._transaction(autocommit)

    @asynccontextmanager
    async def _transaction(self, autocommit: bool) -> AsyncIterator[PgUnitOfWork]:
        async with pooled(self._pool, transaction=not autocommit) as conn:
            unit = PgUnitOfWork(
                conn,
                self._clock,
                self._cipher,
                self._request_key,
                self._identity,
                autocommit=autocommit,
            )
            yield unit
            audit = unit.__dict__.get("audit")  # built only if the block used it
            if audit is not None:
                await audit.write_held()  # held only without a transaction
        if audit is not None and audit.recorded:
            self._chaining.after_commit(audit.recorded)
