"""PHI sealing, part of the shared kernel: a sealed value, the cipher port, a sealed column.

A sealed value is bound to its place (``table.column:row id``) as associated
data, so a ciphertext copied to another row or column will not open. The
columns themselves are listed in ``domain/phi/columns.py``; the cipher is
domain/adapters/phi/cipher.py. A value that waits in one row until a job moves it
to another (an upload's description, moved to its record) is sealed once, for the
place it ends in (``SealedColumn.staged_in``), and moves as it is.
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
    # A column that holds values waiting to move elsewhere (``staged_in``) seals them for
    # their destination, ``table.column`` there: they move as ciphertext, never re-sealed.
    bound_to: str | None = None
    # A partitioned table's partition column: read with each value and named in its rewrite,
    # so the rewrite reads the row's own partition, not every one.
    partition_key: str | None = None

    @property
    def sealed_column(self) -> str:
        return f"{self.column}_sealed"

    @property
    def key_id_column(self) -> str:
        return f"{self.column}_key_id"

    @property
    def place(self) -> str:
        """The place a value is bound to: this column, or the one it will move to."""
        return self.bound_to or f"{self.table}.{self.column}"

    def context(self, row_id: uuid.UUID | str) -> str:
        """The associated data of one value: a ciphertext moved elsewhere will not open."""
        return f"{self.place}:{row_id}"

    def staged_in(self, table: str) -> SealedColumn:
        """Where this column's values wait in ``table`` (column ``{table}_{column}`` there, in
        the row with the same id) before they move here, already sealed for this place."""
        return SealedColumn(table, f"{self.table}_{self.column}", self.row_key, bound_to=self.place)
