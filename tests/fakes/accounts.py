"""The accounts feature's repositories in memory: users, refresh tokens, one-time secrets,
recovery codes.

Each keeps to what its PostgreSQL twin guarantees (domain/adapters/accounts/): one account
per address however it is typed (``email_lookup_form``), and every use of a token, secret,
code or TOTP step is guarded on the state it expects, so a second use finds nothing. Names
and addresses are never stored in the clear here, so the sealing step finds nothing to do.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec

from domain.accounts.model import (
    AccountStatus,
    DoctorProfile,
    OneTimeSecret,
    PatientProfile,
    RefreshToken,
    SecretPurpose,
    User,
    email_lookup_form,
)
from domain.accounts.ports import SealingBatch
from domain.clock import Clock
from domain.sealing import Sealed
from tests.fakes.audit import FakeAuditLog
from tests.fakes.database import FakeDatabase, RepositoryBuilder
from tests.fakes.emails import FakeEmailRepository
from tests.fakes.jobs import FakeJobRepository


class FakeUserRepository:
    def __init__(self, database: FakeDatabase, clock: Clock) -> None:
        self._users: dict[uuid.UUID, User] = database.table("users")
        self._patients: dict[uuid.UUID, PatientProfile] = database.table("patient_profiles")
        self._doctors: dict[uuid.UUID, DoctorProfile] = database.table("doctor_profiles")

    def _change(self, user_id: uuid.UUID, **changes: Any) -> None:
        user = self._users.get(user_id)
        if user is not None:
            self._users[user_id] = msgspec.structs.replace(user, **changes)

    async def add(self, user: User) -> bool:
        if await self.by_email(user.email) is not None:
            return False
        self._users[user.id] = user
        return True

    async def add_patient_profile(self, profile: PatientProfile) -> None:
        self._patients[profile.user_id] = profile

    async def add_doctor_profile(self, profile: DoctorProfile) -> None:
        self._doctors[profile.user_id] = profile

    async def replace_pending(self, user: User) -> bool:
        existing = self._users.get(user.id)
        if existing is None or existing.status is not AccountStatus.PENDING:
            return False
        self._users[user.id] = msgspec.structs.replace(
            user,
            status=existing.status,
            created_at=existing.created_at,
            email_verified_at=existing.email_verified_at,
            totp_secret=None,
            totp_enabled_at=None,
            totp_last_step=None,
            last_login_at=None,
        )
        return True

    async def remove_profiles(self, user_id: uuid.UUID) -> None:
        self._patients.pop(user_id, None)
        self._doctors.pop(user_id, None)

    async def get(self, user_id: uuid.UUID) -> User | None:
        return self._users.get(user_id)

    async def by_email(self, email: str) -> User | None:
        wanted = email_lookup_form(email)
        return next(
            (user for user in self._users.values() if email_lookup_form(user.email) == wanted),
            None,
        )

    async def patient_profile(self, user_id: uuid.UUID) -> PatientProfile | None:
        return self._patients.get(user_id)

    async def doctor_profile(self, user_id: uuid.UUID) -> DoctorProfile | None:
        return self._doctors.get(user_id)

    async def set_status(
        self,
        user_id: uuid.UUID,
        expected: AccountStatus,
        status: AccountStatus,
        at: datetime,
        *,
        email_verified: bool = False,
    ) -> bool:
        user = self._users.get(user_id)
        if user is None or user.status is not expected:
            return False
        verified_at = user.email_verified_at or (at if email_verified else None)
        self._change(user_id, status=status, updated_at=at, email_verified_at=verified_at)
        return True

    async def set_password(self, user_id: uuid.UUID, password_hash: str, at: datetime) -> None:
        self._change(user_id, password_hash=password_hash, updated_at=at)

    async def record_login(self, user_id: uuid.UUID, at: datetime) -> None:
        self._change(user_id, last_login_at=at)

    async def set_name(self, user_id: uuid.UUID, name: str, at: datetime) -> None:
        self._change(user_id, name=name, updated_at=at)

    async def set_phone(self, user_id: uuid.UUID, phone: Sealed | None, at: datetime) -> None:
        self._change(user_id, phone=phone, updated_at=at)

    async def store_totp_secret(self, user_id: uuid.UUID, secret: Sealed, at: datetime) -> bool:
        user = self._users.get(user_id)
        if user is None or user.totp_enabled:
            return False
        self._change(user_id, totp_secret=secret, totp_last_step=None, updated_at=at)
        return True

    async def enable_totp(self, user_id: uuid.UUID, step: int, at: datetime) -> bool:
        user = self._users.get(user_id)
        if user is None or user.totp_enabled or user.totp_secret is None:
            return False
        self._change(user_id, totp_enabled_at=at, totp_last_step=step, updated_at=at)
        return True

    async def clear_totp(self, user_id: uuid.UUID, at: datetime) -> None:
        self._change(
            user_id, totp_secret=None, totp_enabled_at=None, totp_last_step=None, updated_at=at
        )

    async def claim_totp_step(self, user_id: uuid.UUID, step: int) -> bool:
        user = self._users.get(user_id)
        if user is None or (user.totp_last_step is not None and user.totp_last_step >= step):
            return False
        self._change(user_id, totp_last_step=step)
        return True

    async def seal_plaintext(self, after: uuid.UUID | None, limit: int) -> SealingBatch:
        return SealingBatch(last_id=None, taken=0, sealed=0, conflicts=0)

    async def plaintext_left(self) -> int:
        return 0


class FakeRefreshTokenRepository:
    def __init__(self, database: FakeDatabase, clock: Clock) -> None:
        self._tokens: dict[uuid.UUID, RefreshToken] = database.table("refresh_tokens")

    async def add(self, token: RefreshToken) -> None:
        self._tokens[token.id] = token

    async def by_hash(self, token_hash: bytes) -> RefreshToken | None:
        return next((t for t in self._tokens.values() if t.token_hash == token_hash), None)

    async def rotate(self, token_id: uuid.UUID, at: datetime) -> bool:
        token = self._tokens.get(token_id)
        if token is None or token.rotated_at or token.revoked_at or token.expires_at <= at:
            return False
        self._tokens[token_id] = msgspec.structs.replace(token, rotated_at=at)
        return True

    def _revoke(self, chosen: list[RefreshToken], at: datetime, reason: str) -> int:
        for token in chosen:
            self._tokens[token.id] = msgspec.structs.replace(
                token, revoked_at=at, revoked_reason=reason
            )
        return len(chosen)

    async def revoke_family(self, family_id: uuid.UUID, at: datetime, reason: str) -> int:
        live = [t for t in self._tokens.values() if t.family_id == family_id and not t.revoked_at]
        return self._revoke(live, at, reason)

    async def revoke_all(self, user_id: uuid.UUID, at: datetime, reason: str) -> int:
        live = [t for t in self._tokens.values() if t.user_id == user_id and not t.revoked_at]
        return self._revoke(live, at, reason)


class FakeOneTimeSecretRepository:
    def __init__(self, database: FakeDatabase, clock: Clock) -> None:
        self._secrets: dict[uuid.UUID, OneTimeSecret] = database.table("one_time_secrets")

    def _use(self, chosen: list[OneTimeSecret], at: datetime) -> int:
        for secret in chosen:
            self._secrets[secret.id] = msgspec.structs.replace(secret, used_at=at)
        return len(chosen)

    async def add(self, secret: OneTimeSecret) -> None:
        self._secrets[secret.id] = secret

    async def by_hash(self, purpose: SecretPurpose, secret_hash: bytes) -> OneTimeSecret | None:
        return next(
            (
                s
                for s in self._secrets.values()
                if s.purpose is purpose and s.secret_hash == secret_hash
            ),
            None,
        )

    async def latest(self, user_id: uuid.UUID, purpose: SecretPurpose) -> OneTimeSecret | None:
        mine = [s for s in self._secrets.values() if s.user_id == user_id and s.purpose is purpose]
        # Newest first, then the lowest id: the adapter's ORDER BY created_at DESC, id.
        return min(mine, key=lambda s: (-s.created_at.timestamp(), s.id), default=None)

    async def consume(self, secret_id: uuid.UUID, at: datetime) -> bool:
        secret = self._secrets.get(secret_id)
        if secret is None or not secret.is_live(at):
            return False
        return self._use([secret], at) == 1

    async def count_failure(self, secret_id: uuid.UUID) -> None:
        secret = self._secrets[secret_id]
        self._secrets[secret_id] = msgspec.structs.replace(secret, attempts=secret.attempts + 1)

    async def retire(self, user_id: uuid.UUID, purpose: SecretPurpose, at: datetime) -> int:
        unused = [
            s
            for s in self._secrets.values()
            if s.user_id == user_id and s.purpose is purpose and s.used_at is None
        ]
        return self._use(unused, at)

    async def retire_all(self, user_id: uuid.UUID, at: datetime) -> int:
        unused = [s for s in self._secrets.values() if s.user_id == user_id and s.used_at is None]
        return self._use(unused, at)

    async def lock_unused(self, user_id: uuid.UUID) -> None:
        """Nothing to wait for: one fake transaction runs at a time."""


class RecoveryCodeRow(msgspec.Struct, frozen=True, kw_only=True):
    user_id: uuid.UUID
    code_hash: bytes
    used_at: datetime | None = None


class FakeRecoveryCodeRepository:
    def __init__(self, database: FakeDatabase, clock: Clock) -> None:
        self._codes: dict[uuid.UUID, RecoveryCodeRow] = database.table("recovery_codes")

    async def replace(self, user_id: uuid.UUID, code_hashes: Sequence[bytes], at: datetime) -> None:
        await self.clear(user_id)
        for code_hash in code_hashes:
            self._codes[uuid.uuid4()] = RecoveryCodeRow(user_id=user_id, code_hash=code_hash)

    async def consume(self, user_id: uuid.UUID, code_hash: bytes, at: datetime) -> bool:
        for row_id, row in self._codes.items():
            if row.user_id == user_id and row.code_hash == code_hash and row.used_at is None:
                self._codes[row_id] = msgspec.structs.replace(row, used_at=at)
                return True
        return False

    async def remaining(self, user_id: uuid.UUID) -> int:
        return sum(1 for row in self._codes.values() if row.user_id == user_id and not row.used_at)

    async def clear(self, user_id: uuid.UUID) -> None:
        for row_id in [row_id for row_id, row in self._codes.items() if row.user_id == user_id]:
            del self._codes[row_id]


# What the accounts' unit of work holds (domain.accounts.ports.UnitOfWork), by name.
ACCOUNT_REPOSITORIES: dict[str, RepositoryBuilder] = {
    "users": FakeUserRepository,
    "refresh_tokens": FakeRefreshTokenRepository,
    "secrets": FakeOneTimeSecretRepository,
    "recovery_codes": FakeRecoveryCodeRepository,
    "emails": FakeEmailRepository,
    "jobs": FakeJobRepository,
    "audit": FakeAuditLog,
}
