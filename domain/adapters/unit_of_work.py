"""One PostgreSQL transaction with the repositories that write inside it.

Repositories that keep PHI whole in their domain objects (e-mails; users'
names and addresses, through ``UserIdentity``) seal and open it themselves,
with the cipher given here. The factory holds the one ``UserIdentity`` of its
database, so the lookup key is opened once per process, not per transaction.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

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
from domain.adapters.audit.log import PgAuditLog
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
from domain.adapters.subscriptions.store import PgPlanRepository, PgSubscriptionRepository
from domain.adapters.vitals.store import PgReadingRepository
from domain.adapters.webhooks.store import PgDeliveryRepository
from domain.clock import Clock
from domain.documents.kind import DOCUMENTS
from domain.scans.kind import SCANS
from domain.sealing import Cipher


class PgUnitOfWork:
    def __init__(
        self,
        conn: AsyncConnection,
        clock: Clock,
        cipher: Cipher,
        request_key: bytes,
        identity: UserIdentity,
    ) -> None:
        self.connection = conn
        self.jobs = PgJobRepository(conn, clock, request_key)
        self.emails = PgEmailRepository(conn, clock, cipher)
        self.notices = PgNoticeRepository(conn, clock, cipher)
        self.audit = PgAuditLog(conn, clock)
        self.users = PgUserRepository(conn, identity)
        self.refresh_tokens = PgRefreshTokenRepository(conn)
        self.secrets = PgOneTimeSecretRepository(conn)
        self.recovery_codes = PgRecoveryCodeRepository(conn)
        self.sealed = PgSealedValues(conn)
        self.connections = PgConnectionRepository(conn, identity)
        self.patients = PgPatientRepository(conn, identity)
        self.doctors = PgDoctorDirectory(conn, identity)
        self.uploads = PgUploadRepository(conn)
        self.records = PgRecordRepository(conn)
        self.anchors = PgAnchorBatchRepository(conn)
        self.documents = PgPatientFiles(conn, DOCUMENTS)
        self.scans = PgPatientFiles(conn, SCANS)
        self.scan_readings = PgScanReadings(conn, cipher)
        self.scan_provider_requests = PgProviderRequests(conn)
        self.medicines = PgMedicineRepository(conn)
        self.prescriptions = PgPrescriptionRepository(conn, cipher)
        self.prescription_batches = PgPrescriptionBatchRepository(conn, cipher)
        self.doses = PgDoseRepository(conn, cipher)
        self.time_zones = PgTimeZones(conn)
        # every kind of patient file
        self.files = files_by_table(self.records, self.documents, self.scans)
        self.adherence = PgAdherenceStore(conn)
        self.readings = PgReadingRepository(conn, cipher)
        self.alerts = PgAlertRepository(conn, clock)
        self.alert_rules = PgRuleOverrides(conn, clock)
        self.care_team = PgCareTeam(conn)
        self.deliveries = PgDeliveryRepository(conn, cipher)
        self.payments = PgPaymentRepository(conn, cipher)
        self.prices = PgPriceList(conn)
        self.payers = PgPayers(conn, self.users)
        self.plans = PgPlanRepository(conn)
        self.subscriptions = PgSubscriptionRepository(conn)
        self.calendars = PgCalendarRepository(conn)
        self.busy_times = PgBusyTimes(conn)
        self.doctor_finder = PgDoctorFinder(conn)
        self.consultations = PgConsultationRepository(conn, cipher)


class PgUnitOfWorkFactory:
    """Calling it opens a transaction; leaving the block commits, an exception rolls back."""

    def __init__(
        self, pool: AsyncConnectionPool, clock: Clock, cipher: Cipher, request_key: bytes
    ) -> None:
        self._pool = pool
        self._clock = clock
        self._cipher = cipher
        self._request_key = request_key
        self._identity = UserIdentity(cipher, LookupKeys(cipher, pool.conninfo, pool.kwargs))

    def __call__(self) -> AbstractAsyncContextManager[PgUnitOfWork]:
        return self._transaction()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[PgUnitOfWork]:
        async with pooled(self._pool, transaction=True) as conn:
            yield PgUnitOfWork(conn, self._clock, self._cipher, self._request_key, self._identity)
