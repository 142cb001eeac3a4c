"""Accounts for tests that are not about accounts: the fixture people, inserted directly.

Rows are written the way the platform stores them (the user row through the
user repository, so name and e-mail address are sealed with the address's
keyed lookup; phone and date of birth sealed with the services' cipher, bound
to their row; the password hashed with argon2id), so the code under test reads
them like real ones - and the people can log in. Tokens come from ``bearer``.
"""

from __future__ import annotations

import functools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from argon2 import PasswordHasher

from domain.accounts.model import AccountStatus, User
from domain.adapters.bootstrap import Services
from domain.connections.model import (
    Connection,
    ConnectionStatus,
    Side,
    invitation_digest,
    new_invitation,
    new_invitation_token,
)
from domain.identity import Role
from domain.phi.columns import PATIENT_DATE_OF_BIRTH, USER_PHONE
from domain.sealing import SealedColumn
from tests.support.api import bearer
from tests.support.people import (
    ADMIN_EANG,
    DOCTOR_CHANTHA,
    DOCTOR_DARARITH,
    PATIENT_ALICE,
    PATIENT_BOREY,
    Person,
)

ROLES: dict[str, Role] = {
    PATIENT_ALICE.email: Role.PATIENT,
    PATIENT_BOREY.email: Role.PATIENT,
    DOCTOR_CHANTHA.email: Role.DOCTOR,
    DOCTOR_DARARITH.email: Role.DOCTOR,
    ADMIN_EANG.email: Role.ADMIN,
}


def role_of(person: Person) -> Role:
    return ROLES[person.email]


@functools.cache
def password_hash(password: str) -> str:
    """argon2 costs tens of milliseconds on purpose: hash each fixture password once per run."""
    return PasswordHasher().hash(password)


def _sealed(services: Services, value: str | None, column: SealedColumn, row_id: uuid.UUID) -> Any:
    if value is None:
        return (None, None)
    sealed = services.cipher.seal(value.encode(), column.context(row_id))
    return (sealed.blob, sealed.key_id)


async def add_user(services: Services, person: Person, *, status: str = "active") -> uuid.UUID:
    """Insert ``person`` with their fixture role (and profile); returns the new user id."""
    user_id = uuid.uuid4()
    role = role_of(person)
    now = datetime.now(UTC)
    phone = None
    if person.phone is not None:
        phone = services.cipher.seal(person.phone.encode(), USER_PHONE.context(user_id))
    user = User(
        id=user_id,
        email=person.email,
        role=role,
        status=AccountStatus(status),
        name=person.name,
        password_hash=password_hash(person.password),
        phone=phone,
        email_verified_at=now,
        created_at=now,
        updated_at=now,
    )
    async with services.uow() as uow:
        conn = uow.connection
        added = await uow.users.add(user)
        assert added, "the fixture people have distinct addresses"
        if role is Role.PATIENT:
            await conn.execute(
                """
                INSERT INTO patient_profiles (user_id, date_of_birth_sealed, date_of_birth_key_id)
                VALUES (%s, %s, %s)
                """,
                (
                    user_id,
                    *_sealed(services, person.date_of_birth, PATIENT_DATE_OF_BIRTH, user_id),
                ),
            )
        elif role is Role.DOCTOR:
            await conn.execute(
                """
                INSERT INTO doctor_profiles (user_id, specialty, licence_number,
                                             consultation_fee_cents)
                VALUES (%s, %s, %s, %s)
                """,
                (user_id, person.specialty, person.licence_number, person.consultation_fee_cents),
            )
    return user_id


async def connect(
    services: Services,
    patient_id: uuid.UUID,
    doctor_id: uuid.UUID,
    *,
    status: ConnectionStatus = ConnectionStatus.ACTIVE,
    initiated_by: Side = Side.PATIENT,
    expires_in: timedelta = timedelta(days=30),
) -> uuid.UUID:
    """A connection between two users in any state, without going through the API."""
    now = datetime.now(UTC)
    connection = Connection(
        id=uuid.uuid4(),
        doctor_id=doctor_id,
        patient_id=patient_id,
        status=status,
        initiated_by=initiated_by,
        expires_at=now + expires_in,
        created_at=now,
        updated_at=now,
    )
    invitation_hash = uuid.uuid4().bytes if initiated_by is Side.DOCTOR else None
    async with services.uow() as uow:
        await uow.connections.add(connection, invitation_hash=invitation_hash)
    return connection.id


async def invite(services: Services, doctor_id: uuid.UUID) -> str:
    """A pending invitation from ``doctor_id``, as if made through the API; returns its token."""
    token = new_invitation_token()
    invitation = new_invitation(doctor_id, datetime.now(UTC))
    async with services.uow() as uow:
        await uow.connections.add(invitation, invitation_hash=invitation_digest(token))
    return token


class Member(msgspec.Struct, frozen=True):
    """One fixture person with an account: their id and a token to call the API as them."""

    person: Person
    id: uuid.UUID

    @property
    def role(self) -> Role:
        return role_of(self.person)

    @property
    def headers(self) -> dict[str, str]:
        return bearer(sub=str(self.id), role=self.role)


class Cast(msgspec.Struct, frozen=True):
    """Everyone in people.py, with accounts; nobody is connected to anybody yet."""

    alice: Member  # patient
    borey: Member  # patient
    chantha: Member  # doctor
    dararith: Member  # doctor
    eang: Member  # admin


async def add_cast(services: Services) -> Cast:
    async def member(person: Person) -> Member:
        return Member(person=person, id=await add_user(services, person))

    return Cast(
        alice=await member(PATIENT_ALICE),
        borey=await member(PATIENT_BOREY),
        chantha=await member(DOCTOR_CHANTHA),
        dararith=await member(DOCTOR_DARARITH),
        eang=await member(ADMIN_EANG),
    )
