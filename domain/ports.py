"""The outside world as the core sees it. Adapters in domain/adapters implement these."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from domain.audit import AuditContext, AuditEntry, AuditPage, AuditQuery, ChainReport
from domain.jobs import Job, JobError, JobEvent, JobStatus, NewJob
from domain.phi import SealedColumn
from domain.rate_limits import RateCount, RateLimit

if TYPE_CHECKING:  # these modules use Sealed from here
    from domain.accounts import (
        AccountStatus,
        DoctorProfile,
        OneTimeSecret,
        PatientProfile,
        RefreshToken,
        SecretPurpose,
        User,
    )
    from domain.anchoring import AnchorBatch, Placement
    from domain.connections import Connection, ConnectionFilter, ConnectionPage, ConnectionStatus
    from domain.documents import DocumentPage, DocumentQuery, StoredDocument
    from domain.patients import DoctorListing, PatientRecord
    from domain.records import RecordPage, RecordQuery, StoredRecord
    from domain.uploads import StagedUpload


class Submission(msgspec.Struct, frozen=True):
    """The outcome of submitting a command: the job, and whether this call created it."""

    job: Job
    created: bool


class JobPage(msgspec.Struct, frozen=True):
    jobs: list[Job]
    next_cursor: str | None


class JobRepository(Protocol):
    """Job rows inside one transaction (the outbox: business rows commit with the job)."""

    async def add(self, new: NewJob, job_id: uuid.UUID | None = None) -> Submission: ...

    async def get(self, job_id: uuid.UUID, *, lock: bool = False) -> Job | None: ...

    async def cancel(self, job_id: uuid.UUID) -> Job: ...

    async def resubmit(self, job_id: uuid.UUID, extra_attempts: int) -> Job: ...


class EmailMessage(msgspec.Struct, frozen=True, kw_only=True):
    """An e-mail waiting in our database: the only place its address and data live."""

    id: uuid.UUID
    job_id: uuid.UUID
    to_address: str
    template: str
    data: dict[str, Any]
    message_id: str
    created_at: datetime | None = None
    # Set once the mail server accepted it (or the outbox holds it): never sent twice.
    handed_over_at: datetime | None = None
    transport: str | None = None


class EmailRepository(Protocol):
    async def add(self, message: EmailMessage) -> None: ...

    async def get(self, email_id: uuid.UUID) -> EmailMessage | None: ...

    async def mark_handed_over(self, email_id: uuid.UUID, transport: str) -> None:
        """Record that the message left us (the first record stands)."""
        ...


class UnitOfWork(Protocol):
    """One database transaction; committed when the context exits without an error."""

    jobs: JobRepository
    emails: EmailRepository
    audit: AuditLog
    sealed: SealedValueRepository
    users: UserRepository
    refresh_tokens: RefreshTokenRepository
    secrets: OneTimeSecretRepository
    recovery_codes: RecoveryCodeRepository
    connections: ConnectionRepository
    patients: PatientRepository
    doctors: DoctorDirectory
    uploads: UploadRepository
    records: RecordRepository
    anchors: AnchorBatchRepository
    documents: DocumentRepository


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> AbstractAsyncContextManager[UnitOfWork]: ...


class JobStore(Protocol):
    """Job state outside a business transaction: reads and lifecycle transitions.

    Each transition is one guarded UPDATE that names the attempt it belongs to,
    so a stale worker (one recovered after its heartbeat stopped) cannot
    overwrite the outcome of a later attempt; it gets None back.
    """

    async def get(self, job_id: uuid.UUID) -> Job | None: ...

    async def page(
        self,
        *,
        owner_id: str | None,
        status: JobStatus | None,
        kind: str | None,
        limit: int,
        cursor: str | None,
    ) -> JobPage: ...

    async def events(self, job_id: uuid.UUID, after_id: int = 0) -> list[JobEvent]: ...

    async def claim(self, job_id: uuid.UUID) -> Job | None: ...

    async def heartbeat_many(self, attempts: list[tuple[uuid.UUID, int]]) -> set[uuid.UUID]:
        """Refresh the heartbeat of running attempts; returns the ids still owned by them."""
        ...

    async def succeed(
        self, job_id: uuid.UUID, attempt: int, result: dict[str, Any] | None
    ) -> Job | None: ...

    async def retry(
        self, job_id: uuid.UUID, attempt: int, error: JobError, run_after: datetime
    ) -> Job | None: ...

    async def fail(self, job_id: uuid.UUID, attempt: int, error: JobError) -> Job | None: ...

    async def cancel(self, job_id: uuid.UUID) -> Job: ...

    async def resubmit(self, job_id: uuid.UUID, extra_attempts: int) -> Job: ...

    async def due_for_send(self, grace_seconds: float, limit: int) -> list[Job]: ...

    async def recover_stale(self, stale_after_seconds: float, limit: int) -> list[Job]: ...


class MessageSender(Protocol):
    """Tells the workers that a job is due. Losing a message loses no job: the relay re-sends."""

    async def send(self, job: Job, delay_seconds: float = 0.0) -> None: ...


class RenderedEmail(msgspec.Struct, frozen=True):
    subject: str
    text: str
    html: str


class EmailRenderer(Protocol):
    def render(self, template: str, data: dict[str, Any]) -> RenderedEmail: ...


class Mailer(Protocol):
    """Delivers one message. Raises TransientFailure or PermanentFailure on refusal."""

    async def deliver(self, *, to_address: str, message_id: str, email: RenderedEmail) -> str: ...


class AddressValidator(Protocol):
    def normalize(self, address: str) -> str:
        """The address in canonical form; raises ValidationFailed(field="to") if it is not one."""
        ...


class Sealed(msgspec.Struct, frozen=True):
    """A PHI value encrypted at rest, with the id of the key that sealed it."""

    key_id: str
    blob: bytes  # nonce || ciphertext || tag


class Cipher(Protocol):
    """Seals PHI for storage. ``context`` names the value's place (table.column:row id)."""

    active_key_id: str

    def seal(self, plaintext: bytes, context: str) -> Sealed: ...

    def open(self, sealed: Sealed, context: str) -> bytes: ...

    def needs_reseal(self, sealed: Sealed) -> bool: ...


class AuditLog(Protocol):
    """Appends to the audit trail inside the current transaction."""

    async def record(self, context: AuditContext, entry: AuditEntry) -> None: ...


class AuditStore(Protocol):
    """The audit trail outside any business transaction: listing it and checking its chain."""

    async def page(self, query: AuditQuery, *, limit: int, cursor: str | None) -> AuditPage: ...

    async def verify(self) -> ChainReport: ...


class PartitionUpkeep(msgspec.Struct, frozen=True):
    created: list[str]  # partition tables made
    moved: int  # events re-routed out of the default partition


class AuditPartitions(Protocol):
    async def ensure(self, first_month: date, months: int) -> PartitionUpkeep:
        """Make the monthly partitions from ``first_month`` on, moving any early arrivals."""
        ...


class SealedValue(msgspec.Struct, frozen=True):
    row_id: uuid.UUID
    sealed: Sealed


class SealedValueRepository(Protocol):
    """Sealed PHI columns as stored values, inside the caller's transaction (key rotation)."""

    async def stale(
        self, column: SealedColumn, active_key_id: str, after: uuid.UUID | None, limit: int
    ) -> list[SealedValue]:
        """Lock and return up to ``limit`` values sealed under another key, by row key order."""
        ...

    async def replace(self, column: SealedColumn, row_id: uuid.UUID, sealed: Sealed) -> None: ...


class RateLimiter(Protocol):
    """Counts hits in a store every API process shares; raises when that store cannot answer."""

    async def hit(self, rates: list[RateLimit]) -> list[RateCount]:
        """Count one hit against each of ``rates`` (in one round trip), in the same order."""
        ...

    async def give_back(self, rate: RateLimit) -> None:
        """Take back one hit counted against ``rate``, if its window is still open: a slot that
        was held for an attempt and turned out not to be spent."""
        ...

    async def close(self) -> None: ...


class ConnectionRepository(Protocol):
    """Doctor-patient connections inside one transaction.

    ``add`` and ``move`` raise Conflict when the pair already has a pending or
    active connection; ``move`` returns None when the row is no longer in ``source``.
    """

    async def add(self, connection: Connection, invitation_hash: bytes | None = None) -> None: ...

    async def get(self, connection_id: uuid.UUID, *, lock: bool = False) -> Connection | None: ...

    async def by_invitation(self, invitation_hash: bytes) -> Connection | None: ...

    async def move(
        self,
        connection_id: uuid.UUID,
        source: ConnectionStatus,
        target: ConnectionStatus,
        now: datetime,
        patient_id: uuid.UUID | None = None,
    ) -> Connection | None: ...

    async def expire_lapsed(
        self, doctor_id: uuid.UUID, patient_id: uuid.UUID, now: datetime
    ) -> list[uuid.UUID]:
        """Store as expired the pair's pending connection whose time ran out; returns its id."""
        ...

    async def is_active(self, doctor_id: uuid.UUID, patient_id: uuid.UUID) -> bool: ...

    async def page(self, query: ConnectionFilter, now: datetime) -> ConnectionPage: ...


class PatientRepository(Protocol):
    """Patients' own data, PHI sealed; the caller opens it after the access check."""

    async def get(self, patient_id: uuid.UUID) -> PatientRecord | None: ...

    async def exists(self, patient_id: uuid.UUID) -> bool:
        """An account that may act as a patient: role patient, not disabled."""
        ...

    async def update_contact(
        self,
        patient_id: uuid.UUID,
        now: datetime,
        *,
        phone: Sealed | msgspec.UnsetType | None = msgspec.UNSET,
        date_of_birth: Sealed | msgspec.UnsetType | None = msgspec.UNSET,
    ) -> None: ...

    async def clinical_notes(self, patient_id: uuid.UUID) -> Sealed | None: ...

    async def set_clinical_notes(self, patient_id: uuid.UUID, notes: Sealed) -> None: ...


class DoctorDirectory(Protocol):
    async def is_listed(self, doctor_id: uuid.UUID) -> bool:
        """An active doctor account: one a patient may ask to connect with."""
        ...

    async def page(self, *, limit: int, offset: int) -> list[DoctorListing]:
        """Active doctors by name (case-insensitively, then by id)."""
        ...


class PasswordHasher(Protocol):
    """Slow, salted password hashing (argon2id); the slowness is the point."""

    async def hash(self, password: str) -> str: ...

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """False for a wrong password. With no hash (no such user, no password set) it
        spends the same time and answers False, so timing does not tell the two apart."""
        ...

    def needs_rehash(self, password_hash: str) -> bool:
        """True when the hash was made with weaker parameters than today's."""
        ...


class TotpProvider(Protocol):
    """RFC 6238 time-based codes, as authenticator apps make them."""

    def new_secret(self) -> str: ...

    def provisioning_uri(self, secret: str, *, account: str, issuer: str) -> str: ...

    def qr_code(self, uri: str) -> str:
        """The URI as a QR code: an SVG ``data:`` URI an app can show as an image."""
        ...

    def match(self, secret: str, code: str, *, at: datetime, after_step: int | None) -> int | None:
        """The time step ``code`` was made for, if it is within one step of ``at`` and later
        than ``after_step`` (the last one accepted: a code is good once); else None."""
        ...


class SealingBatch(msgspec.Struct, frozen=True, kw_only=True):
    """One batch of the sealing step: accounts whose name or address was still in the clear."""

    last_id: uuid.UUID | None  # the next batch starts after it; None when none was taken
    taken: int  # rows with plaintext this batch took (locked rows are passed over)
    sealed: int  # of those, sealed and cleared
    conflicts: int  # left in the clear: another account holds their address sealed


class UserRepository(Protocol):
    """Users and their profiles inside one transaction."""

    async def add(self, user: User) -> bool:
        """False (and nothing written) when the e-mail address is taken."""
        ...

    async def add_patient_profile(self, profile: PatientProfile) -> None: ...

    async def add_doctor_profile(self, profile: DoctorProfile) -> None: ...

    async def replace_pending(self, user: User) -> bool:
        """Overwrite a pending account's row with ``user`` as a new sign-up would write it
        (keeping its id, status and creation time); False if the account is not pending."""
        ...

    async def remove_profiles(self, user_id: uuid.UUID) -> None:
        """Delete the account's patient and doctor profiles, whichever it has."""
        ...

    async def get(self, user_id: uuid.UUID) -> User | None: ...

    async def by_email(self, email: str) -> User | None:
        """Case-insensitive: one address, one account, however it is typed."""
        ...

    async def patient_profile(self, user_id: uuid.UUID) -> PatientProfile | None: ...

    async def doctor_profile(self, user_id: uuid.UUID) -> DoctorProfile | None: ...

    async def set_status(
        self,
        user_id: uuid.UUID,
        expected: AccountStatus,
        status: AccountStatus,
        at: datetime,
        *,
        email_verified: bool = False,
    ) -> bool:
        """Move the account from ``expected`` to ``status``; False if it was not ``expected``."""
        ...

    async def set_password(self, user_id: uuid.UUID, password_hash: str, at: datetime) -> None: ...

    async def record_login(self, user_id: uuid.UUID, at: datetime) -> None: ...

    async def set_name(self, user_id: uuid.UUID, name: str, at: datetime) -> None: ...

    async def set_phone(self, user_id: uuid.UUID, phone: Sealed | None, at: datetime) -> None: ...

    async def store_totp_secret(self, user_id: uuid.UUID, secret: Sealed, at: datetime) -> bool:
        """Keep a secret awaiting confirmation; False if TOTP is already enabled."""
        ...

    async def enable_totp(self, user_id: uuid.UUID, step: int, at: datetime) -> bool:
        """Enable the stored secret, ``step`` being the confirming code's; False if enabled."""
        ...

    async def clear_totp(self, user_id: uuid.UUID, at: datetime) -> None: ...

    async def claim_totp_step(self, user_id: uuid.UUID, step: int) -> bool:
        """Record ``step`` as used; False if it (or a later one) already was."""
        ...

    async def seal_plaintext(self, after: uuid.UUID | None, limit: int) -> SealingBatch:
        """Seal up to ``limit`` accounts (ids after ``after``) written before names and
        addresses were sealed, and clear their plaintext."""
        ...

    async def plaintext_left(self) -> int:
        """Accounts whose name or address is still stored in the clear."""
        ...


class RefreshTokenRepository(Protocol):
    async def add(self, token: RefreshToken) -> None: ...

    async def by_hash(self, token_hash: bytes) -> RefreshToken | None: ...

    async def rotate(self, token_id: uuid.UUID, at: datetime) -> bool:
        """Retire a live token; False if it was no longer live (a concurrent use got it)."""
        ...

    async def revoke_family(self, family_id: uuid.UUID, at: datetime, reason: str) -> int: ...

    async def revoke_all(self, user_id: uuid.UUID, at: datetime, reason: str) -> int: ...


class OneTimeSecretRepository(Protocol):
    async def add(self, secret: OneTimeSecret) -> None: ...

    async def by_hash(self, purpose: SecretPurpose, secret_hash: bytes) -> OneTimeSecret | None: ...

    async def latest(self, user_id: uuid.UUID, purpose: SecretPurpose) -> OneTimeSecret | None: ...

    async def consume(self, secret_id: uuid.UUID, at: datetime) -> bool:
        """Use a live secret up; False if it was not live (used, expired, worn out)."""
        ...

    async def count_failure(self, secret_id: uuid.UUID) -> None: ...

    async def retire(self, user_id: uuid.UUID, purpose: SecretPurpose, at: datetime) -> int:
        """Use up every unused secret of ``purpose``: a newer one replaces them."""
        ...

    async def retire_all(self, user_id: uuid.UUID, at: datetime) -> int:
        """Use up every unused secret of the account, whatever its purpose."""
        ...

    async def lock_unused(self, user_id: uuid.UUID) -> None:
        """Lock the account's unused secrets until the transaction ends: a concurrent use of
        one (which locks it, then the user row) finishes first or waits for this one."""
        ...


class RecoveryCodeRepository(Protocol):
    async def replace(
        self, user_id: uuid.UUID, code_hashes: Sequence[bytes], at: datetime
    ) -> None: ...

    async def consume(self, user_id: uuid.UUID, code_hash: bytes, at: datetime) -> bool: ...

    async def remaining(self, user_id: uuid.UUID) -> int: ...

    async def clear(self, user_id: uuid.UUID) -> None: ...


# --- content-addressed storage (IPFS) and the ledger (Stellar) -------------------------


class ContentStore(Protocol):
    """Content-addressed storage: a Kubo-RPC IPFS node, or the embedded block store.

    CIDs are CIDv1 text in base32 (``bafk...`` / ``bafy...``), made the way Kubo makes
    them with ``cid-version=1``: 256 KiB chunks, raw leaves, balanced dag-pb tree of at
    most 174 links per node, sha2-256. The same bytes give the same CID in every store.
    Raises ContentUnavailable when the store cannot be reached (after its own short
    retries) and ContentMissing when it holds no such content.
    """

    async def add(self, chunks: AsyncIterable[bytes]) -> str:
        """Store and pin the joined ``chunks``; returns their CID. Adding again is harmless."""
        ...

    def cat(self, cid: str) -> AsyncIterator[bytes]:
        """The content's bytes, exactly as added, in pieces (never the whole in memory)."""
        ...

    async def unpin(self, cid: str) -> None:
        """Let the store forget the content (a node may garbage-collect it). Idempotent."""
        ...

    async def ping(self) -> None:
        """Raises ContentUnavailable unless the store answers (readiness checks)."""
        ...

    async def close(self) -> None: ...


class SignedAnchor(msgspec.Struct, frozen=True, kw_only=True):
    """A signed Stellar transaction whose memo hash is a Merkle root; kept before submitting
    so a timed-out submission is retried with the very same envelope."""

    root: bytes  # 32 bytes, the memo hash
    envelope_xdr: str  # base64 TransactionEnvelope
    tx_hash: str  # hex, the hash of the transaction under the network passphrase
    sequence: int
    fee: int  # total fee in stroops


class LedgerTransaction(msgspec.Struct, frozen=True, kw_only=True):
    """A transaction as the ledger (Horizon) reports it."""

    tx_hash: str
    ledger: int
    source_account: str
    memo_hash: bytes | None
    successful: bool
    envelope_xdr: str


class AnchorLedger(Protocol):
    """Anchors Merkle roots on Stellar.

    ``submits`` is False when no Horizon is configured: transactions are then signed and
    kept, and submitted once one is. ``submit`` handles the ledger's usual refusals itself:
    tx_bad_seq (looks the hash up, reloads the sequence, re-signs), timeouts (resubmits the
    same envelope), TRY_AGAIN_LATER and fee surges (raises the fee up to its cap). It
    raises TransientFailure when Horizon stays unreachable and PermanentFailure for what
    no retry can fix (bad auth, an unfunded account).
    """

    account_id: str  # our public key (G...)
    network_passphrase: str
    submits: bool

    async def sign(self, root: bytes) -> SignedAnchor: ...

    async def submit(self, anchor: SignedAnchor) -> tuple[SignedAnchor, LedgerTransaction]:
        """Returns the anchor that landed (re-signed if its sequence was stale) and its record."""
        ...

    async def lookup(self, tx_hash: str) -> LedgerTransaction | None: ...

    async def close(self) -> None: ...


# --- records, documents and their anchoring, inside one transaction ------------------


class UploadRepository(Protocol):
    """Staged upload bytes; chunks may be written before their upload row (same transaction)."""

    async def add_chunk(self, upload_id: uuid.UUID, seq: int, data: bytes) -> None: ...

    async def add(self, upload: StagedUpload) -> None: ...

    async def get(self, upload_id: uuid.UUID) -> StagedUpload | None: ...

    def chunks(self, upload_id: uuid.UUID) -> AsyncIterator[bytes]:
        """The staged bytes in order, a chunk at a time."""
        ...

    async def discard(self, upload_id: uuid.UUID) -> None:
        """Remove the upload and its chunks (once stored elsewhere, or when not kept)."""
        ...


class ContentRef(msgspec.Struct, frozen=True):
    id: uuid.UUID
    cid: str


class RecordRepository(Protocol):
    async def add(self, record: StoredRecord) -> None: ...

    async def get(self, record_id: uuid.UUID) -> StoredRecord | None:
        """A record that is not deleted."""
        ...

    async def by_job(self, job_id: uuid.UUID) -> StoredRecord | None: ...

    async def page(self, query: RecordQuery) -> RecordPage: ...

    async def soft_delete(self, record_id: uuid.UUID, by: uuid.UUID, at: datetime) -> bool: ...

    async def unbatched(self, limit: int) -> list[StoredRecord]:
        """Lock up to ``limit`` records not yet in a batch, oldest first (skips locked rows)."""
        ...

    async def place_in_batch(
        self, batch_id: uuid.UUID, placements: Sequence[Placement]
    ) -> None: ...

    async def mark_anchored(self, batch_id: uuid.UUID, tx_hash: str) -> int:
        """Every record of the batch is anchored, and its job's result says so; returns how many."""
        ...

    async def due_for_unpin(self, deleted_before: datetime, limit: int) -> list[ContentRef]:
        """Records deleted before ``deleted_before`` whose CID no live record still uses."""
        ...

    async def mark_unpinned(self, record_id: uuid.UUID, at: datetime) -> None: ...


class AnchorBatchRepository(Protocol):
    async def add(self, batch: AnchorBatch) -> None: ...

    async def get(self, batch_id: uuid.UUID) -> AnchorBatch | None: ...

    async def unanchored(self, limit: int) -> list[AnchorBatch]:
        """Lock the batches not yet on the ledger, oldest first."""
        ...

    async def anchor(
        self, batch_id: uuid.UUID, anchor: SignedAnchor, ledger: int, at: datetime
    ) -> None:
        """Store the transaction that landed (re-signed ones differ from the kept one)."""
        ...

    async def replace_envelope(self, batch_id: uuid.UUID, anchor: SignedAnchor) -> None: ...

    async def run_needed(self, *, include_signed: bool) -> bool:
        """Records wait for a batch (or, with ``include_signed``, batches wait for the ledger)
        and no anchoring job is queued, running or waiting to retry."""
        ...


class DocumentRepository(Protocol):
    async def add(self, document: StoredDocument) -> None: ...

    async def get(self, document_id: uuid.UUID) -> StoredDocument | None: ...

    async def by_job(self, job_id: uuid.UUID) -> StoredDocument | None: ...

    async def page(self, query: DocumentQuery) -> DocumentPage: ...

    async def soft_delete(self, document_id: uuid.UUID, by: uuid.UUID, at: datetime) -> bool: ...

    async def due_for_unpin(self, deleted_before: datetime, limit: int) -> list[ContentRef]: ...

    async def mark_unpinned(self, document_id: uuid.UUID, at: datetime) -> None: ...


class ExclusiveRuns(Protocol):
    """``async with exclusive("anchor") as held``: held is False while another run holds it."""

    def __call__(self, name: str) -> AbstractAsyncContextManager[bool]: ...


class PdfInspector(Protocol):
    async def page_count(self, data: bytes) -> int:
        """Pages of an acceptable PDF. Raises UnsupportedMediaType for anything not a PDF, and
        BadRequest for a PDF we refuse to keep (unreadable, encrypted, with JavaScript)."""
        ...


class ContentCipher(Protocol):
    """Streaming authenticated encryption of a document's bytes under its own data key."""

    def new_data_key(self) -> bytes: ...

    def encrypt(
        self, key: bytes, chunks: AsyncIterable[bytes], context: bytes
    ) -> AsyncIterator[bytes]: ...

    def decrypt(
        self, key: bytes, chunks: AsyncIterable[bytes], context: bytes
    ) -> AsyncIterator[bytes]:
        """Raises SealBroken on any alteration, truncation or wrong key/context."""
        ...
