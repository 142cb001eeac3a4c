"""The caller's own account: reading it (sealed values opened) and changing name or phone.

A read opens PHI (phone, date of birth), so it is audited like any read of
patient data; an update records which fields changed, never their values.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

import msgspec

from domain.accounts.model import AccountStatus, DoctorProfile, User, clean_name, clean_phone
from domain.accounts.ports import UnitOfWork
from domain.accounts.steps import own_account, record_audit, seal, unseal
from domain.auditing import AuditContext
from domain.clock import Clock
from domain.errors import NotFound, ValidationFailed
from domain.identity import Role
from domain.phi.columns import PATIENT_DATE_OF_BIRTH, USER_PHONE
from domain.policies import Access
from domain.sealing import Cipher
from domain.transactions import UnitOfWorkFactory


class DoctorDetailsView(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    specialty: str
    licence_number: str
    consultation_fee_cents: int
    currency: str


class AccountView(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    id: uuid.UUID
    email: str
    role: Role
    status: AccountStatus
    name: str
    phone: str | None
    date_of_birth: date | None = None
    doctor: DoctorDetailsView | None = None
    email_verified: bool
    totp_enabled: bool
    created_at: datetime


class AccountChanges(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """UNSET leaves a field alone; a null phone removes it."""

    name: str | msgspec.UnsetType = msgspec.UNSET
    phone: str | msgspec.UnsetType | None = msgspec.UNSET

    def changed_fields(self) -> tuple[str, ...]:
        return tuple(
            field for field in ("name", "phone") if getattr(self, field) is not msgspec.UNSET
        )


async def _load(uow: UnitOfWork, user_id: uuid.UUID) -> User:
    user = await uow.users.get(user_id)
    if user is None:
        raise NotFound("account not found")
    return user


async def _view(uow: UnitOfWork, cipher: Cipher, user: User) -> AccountView:
    born = None
    if user.role is Role.PATIENT:
        profile = await uow.users.patient_profile(user.id)
        if profile is not None and profile.date_of_birth is not None:
            born = date.fromisoformat(
                unseal(cipher, PATIENT_DATE_OF_BIRTH, user.id, profile.date_of_birth)
            )
    doctor: DoctorProfile | None = None
    if user.role is Role.DOCTOR:
        doctor = await uow.users.doctor_profile(user.id)
    return AccountView(
        id=user.id,
        email=user.email,
        role=user.role,
        status=user.status,
        name=user.name,
        phone=unseal(cipher, USER_PHONE, user.id, user.phone) if user.phone is not None else None,
        date_of_birth=born,
        doctor=DoctorDetailsView(
            specialty=doctor.specialty,
            licence_number=doctor.licence_number,
            consultation_fee_cents=doctor.consultation_fee_cents,
            currency=doctor.currency,
        )
        if doctor is not None
        else None,
        email_verified=user.email_verified_at is not None,
        totp_enabled=user.totp_enabled,
        created_at=user.created_at,
    )


async def read_account(
    access: Access,
    audit: AuditContext,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    cipher: Cipher,
) -> AccountView:
    user_id = own_account(access)
    async with uow_factory(autocommit=True) as uow:
        user = await _load(uow, user_id)
        view = await _view(uow, cipher, user)
        await record_audit(uow, audit, user, "user.read")
    return view


async def update_account(
    access: Access,
    audit: AuditContext,
    changes: AccountChanges,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
    cipher: Cipher,
) -> AccountView:
    user_id = own_account(access)
    fields = changes.changed_fields()
    if not fields:
        raise ValidationFailed("name at least one of name, phone", field="body")
    name = clean_name(changes.name) if isinstance(changes.name, str) else None
    phone = clean_phone(changes.phone) if isinstance(changes.phone, str) else None
    now = clock.now()
    async with uow_factory() as uow:
        user = await _load(uow, user_id)
        if name is not None:
            await uow.users.set_name(user.id, name, now)
        if changes.phone is not msgspec.UNSET:
            sealed = seal(cipher, USER_PHONE, user.id, phone) if phone is not None else None
            await uow.users.set_phone(user.id, sealed, now)
        await record_audit(uow, audit, user, "user.update", changed_fields=fields)
        view = await _view(uow, cipher, await _load(uow, user_id))
    return view
