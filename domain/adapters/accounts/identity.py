"""Users' names and e-mail addresses at rest: sealed, the address with a keyed lookup.

``users.name`` and ``users.email`` are PHI, sealed like every other PHI column
(``domain.phi.USER_NAME`` / ``USER_EMAIL``, bound to their row). The address is
also kept as ``email_lookup`` = HMAC-SHA256(lookup key, address), under a unique
index: how sign-in finds an account and how sign-up refuses a second one for an
address (domain/adapters/accounts/lookup_keys.py says which key, and why).

Every store that reads a name or an address reads it here. Domain objects keep
them whole in memory (``User.name``, ``PatientRecord.email`` ...), as
``EmailMessage`` keeps its address: only this module sees them sealed.

Rows written before revision 0008 hold both in the clear until the sealing step
(domain/accounts/sealing.py) reaches them; such a row is read in the clear. A
sealed row's plaintext columns are NULL (a CHECK holds each value once), so
nothing is ever read in the clear from a row once it is sealed.
"""

from __future__ import annotations

import hmac
import uuid
from typing import Any

import msgspec
from psycopg import AsyncConnection, sql

from domain.accounts.model import email_lookup_form
from domain.adapters.accounts.lookup_keys import LookupKeys
from domain.phi.columns import USER_EMAIL, USER_NAME
from domain.sealing import Cipher, Sealed, SealedColumn

EMAIL_LOOKUP_PURPOSE = "users.email"


class SealedIdentity(msgspec.Struct, frozen=True):
    """What a user row stores for a name and an address."""

    name: Sealed
    email: Sealed
    email_lookup: bytes


def identity_columns(alias: str, prefix: str = "", *, email: bool = True) -> sql.Composable:
    """The columns ``read`` needs from the users row ``alias``, as ``{prefix}name`` ... ."""
    columns = [USER_NAME, USER_EMAIL] if email else [USER_NAME]
    names = [
        name
        for column in columns
        for name in (column.column, column.sealed_column, column.key_id_column)
    ]
    return sql.SQL(", ").join(
        sql.SQL("{}.{} AS {}").format(
            sql.Identifier(alias), sql.Identifier(name), sql.Identifier(prefix + name)
        )
        for name in names
    )


class UserIdentity:
    def __init__(self, cipher: Cipher, lookup_keys: LookupKeys) -> None:
        self._cipher = cipher
        self._lookup_keys = lookup_keys

    def seal(self, column: SealedColumn, user_id: uuid.UUID, value: str) -> Sealed:
        return self._cipher.seal(value.encode(), column.context(user_id))

    async def lookup(self, conn: AsyncConnection, address: str, *, create: bool) -> bytes | None:
        """The keyed lookup of ``address`` (as sign-up and sign-in normalise it). None when
        no lookup key exists yet (only if not ``create``): no row can carry a lookup then."""
        key = await self._lookup_keys.get(conn, EMAIL_LOOKUP_PURPOSE, create=create)
        if key is None:
            return None
        return hmac.new(key, email_lookup_form(address).encode(), "sha256").digest()

    async def sealed(
        self, conn: AsyncConnection, user_id: uuid.UUID, name: str, email: str
    ) -> SealedIdentity:
        lookup = await self.lookup(conn, email, create=True)
        assert lookup is not None  # made on demand
        return SealedIdentity(
            name=self.seal(USER_NAME, user_id, name),
            email=self.seal(USER_EMAIL, user_id, email),
            email_lookup=lookup,
        )

    def read(
        self, row: dict[str, Any], column: SealedColumn, user_id: uuid.UUID, prefix: str = ""
    ) -> str | None:
        """The name or address of ``row`` (selected with ``identity_columns``); None for a
        row that is not there (an outer join's missing side)."""
        blob = row[prefix + column.sealed_column]
        if blob is None:
            return row[prefix + column.column]  # a row the sealing step has not reached yet
        sealed = Sealed(key_id=row[prefix + column.key_id_column], blob=bytes(blob))
        return self._cipher.open(sealed, column.context(user_id)).decode()
