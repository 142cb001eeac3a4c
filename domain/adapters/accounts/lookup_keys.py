"""The keys of keyed lookups (``users.email_lookup``): made once per database, kept sealed.

Sign-in finds an account by its e-mail address and sign-up must refuse a second
account for one address, but the address is sealed (AES-256-GCM with a random
nonce: one address never seals twice alike). So each row also keeps
HMAC-SHA256(lookup key, address) under a unique index. Why this key, and why here:

- It is not a PHI key, nor derived from one. PHI keys rotate (a new key becomes
  active, old rows are re-sealed, the old key is retired). A lookup made under a
  PHI key would have to be recomputed for every row at each rotation, with
  sign-in trying every key in the ring meanwhile, and the unique index could not
  see that two rows under two keys hold one address. This key never changes: sign-in
  and uniqueness work alike before, during and after a rotation, and retiring the
  old PHI key touches no lookup.
- It is random (32 bytes from the OS), made for one purpose (its row's ``purpose``)
  the first time it is needed, and stored in ``lookup_keys`` sealed under the PHI
  keyring like any PHI value (``domain.phi.LOOKUP_KEY``): the rotation job re-seals
  it under the active key and its value stays the same. A copy of the database alone
  cannot test guessed addresses against the lookups; the PHI keyring remains the one
  secret to provision and back up (no new setting).
- It is made on a connection of its own and committed at once. Made inside a
  caller's transaction that then rolled back, it would be gone from the database
  while this process (which caches it) kept computing lookups with it.

Changing the key itself would mean recomputing every row's lookup from its opened
address; nothing does that today (a leaked PHI keyring is the case for it).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg import AsyncConnection

from domain.errors import DatabaseUnavailable
from domain.phi.columns import LOOKUP_KEY
from domain.sealing import Cipher, Sealed

KEY_BYTES = 32


class LookupKeys:
    """Lookup keys by purpose, opened once and then kept in memory for this database."""

    def __init__(
        self, cipher: Cipher, conninfo: str, connect_kwargs: Mapping[str, Any] | None = None
    ) -> None:
        self._cipher = cipher
        self._conninfo = conninfo
        self._connect_kwargs = dict(connect_kwargs or {})
        self._keys: dict[str, bytes] = {}

    async def get(self, conn: AsyncConnection, purpose: str, *, create: bool) -> bytes | None:
        """The key for ``purpose``; made first if ``create`` (a writer), else None if there is
        none yet (a reader: then no row can have a lookup under it)."""
        key = self._keys.get(purpose)
        if key is not None:
            return key
        row = await self._read(conn, purpose)
        if row is None:
            if not create:
                return None
            await self._make(purpose)
            # ``conn`` reads committed data statement by statement: it sees the key now,
            # whether this process made it or another won the race.
            row = await self._read(conn, purpose)
            if row is None:  # pragma: no cover - only if a transaction froze its snapshot
                raise RuntimeError("the lookup key was made but cannot be read back")
        sealed = Sealed(key_id=row["key_key_id"], blob=bytes(row["key_sealed"]))
        key = self._cipher.open(sealed, LOOKUP_KEY.context(row["id"]))
        self._keys[purpose] = key
        return key

    @staticmethod
    async def _read(conn: AsyncConnection, purpose: str) -> dict[str, Any] | None:
        cursor = await conn.execute(
            "SELECT id, key_sealed, key_key_id FROM lookup_keys WHERE purpose = %s", (purpose,)
        )
        return await cursor.fetchone()  # every connection here makes dict rows

    async def _make(self, purpose: str) -> None:
        row_id = uuid.uuid4()
        sealed = self._cipher.seal(os.urandom(KEY_BYTES), LOOKUP_KEY.context(row_id))
        options = {**self._connect_kwargs, "autocommit": True}
        try:
            async with await psycopg.AsyncConnection.connect(self._conninfo, **options) as side:
                await side.execute(
                    """
                    INSERT INTO lookup_keys (id, purpose, key_sealed, key_key_id)
                    VALUES (%s, %s, %s, %s)
                    ON CONFLICT (purpose) DO NOTHING
                    """,
                    (row_id, purpose, sealed.blob, sealed.key_id),
                )
        except psycopg.OperationalError as exc:
            raise DatabaseUnavailable(
                "the database is unavailable or too busy to answer in time; try again shortly"
            ) from exc
