"""PHI sealing, part of the shared kernel: a sealed value, the cipher port, a sealed column.

A sealed value is bound to its place (``table.column:row id``) as associated
data, so a ciphertext copied to another row or column will not open. The
columns themselves are listed in ``domain/phi/columns.py``; the cipher is
domain/adapters/phi/cipher.py.
"""

from __future__ import annotations

import uuid
from typing import Protocol

import msgspec


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


class SealedColumn(msgspec.Struct, frozen=True):
    table: str
    column: str  # the value column is ``{column}_sealed``, its key id ``{column}_key_id``
    row_key: str  # the primary-key column that identifies the row

    @property
    def sealed_column(self) -> str:
        return f"{self.column}_sealed"

    @property
    def key_id_column(self) -> str:
        return f"{self.column}_key_id"

    def context(self, row_id: uuid.UUID | str) -> str:
        """The associated data of one value: a ciphertext moved elsewhere will not open."""
        return f"{self.table}.{self.column}:{row_id}"
