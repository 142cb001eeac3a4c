"""Where accounts and their credentials are kept, and the password and TOTP primitives."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

import msgspec

from domain.accounts.model import (
    AccountStatus,
    DoctorProfile,
    OneTimeSecret,
    PatientProfile,
    RefreshToken,
    SecretPurpose,
    User,
)
from domain.auditing import AuditLog
from domain.jobs.ports import JobRepository
from domain.notifications.ports import EmailRepository
from domain.sealing import Sealed


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


class UnitOfWork(Protocol):
    """What the accounts feature reads and writes in one database transaction."""

    users: UserRepository
    refresh_tokens: RefreshTokenRepository
    secrets: OneTimeSecretRepository
    recovery_codes: RecoveryCodeRepository
    emails: EmailRepository
    jobs: JobRepository
    audit: AuditLog
