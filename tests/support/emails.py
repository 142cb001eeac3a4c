"""Reading ``email_messages`` behind the platform's back: the rows as stored, and opened.

The address and data are sealed at rest; tests open them here with the
suite's keyring (``TEST_PHI_KEYS``), which holds every key the tests seal with.
"""

from __future__ import annotations

from typing import Any

import msgspec

from domain.adapters.phi.cipher import PhiCipher
from domain.phi.columns import EMAIL_DATA, EMAIL_TO_ADDRESS
from domain.sealing import Sealed, SealedColumn
from tests.conftest import TEST_PHI_KEYS
from tests.support.rows import rows

SUITE_KEYRING = PhiCipher(TEST_PHI_KEYS, "test-k2")


class OpenedEmail(msgspec.Struct, frozen=True, kw_only=True):
    row: dict[str, Any]  # as stored
    to_address: str
    data: dict[str, Any]


def _open(row: dict[str, Any], column: SealedColumn) -> bytes:
    sealed = Sealed(key_id=row[column.key_id_column], blob=bytes(row[column.sealed_column]))
    return SUITE_KEYRING.open(sealed, column.context(row["id"]))


def stored_emails(database_url: str) -> list[OpenedEmail]:
    """Every e-mail row, oldest first, with its address and data opened."""
    found = rows(database_url, "SELECT * FROM email_messages ORDER BY created_at, id")
    return [
        OpenedEmail(
            row=row,
            to_address=_open(row, EMAIL_TO_ADDRESS).decode(),
            data=msgspec.json.decode(_open(row, EMAIL_DATA)),
        )
        for row in found
    ]


def email_rows_as_text(database_url: str) -> str:
    """Every e-mail row as PostgreSQL renders it (bytea in hex), with its sealed bytes too."""
    found = rows(
        database_url,
        "SELECT e::text AS text, to_address_sealed, data_sealed FROM email_messages e",
    )
    return "\n".join(
        part
        for row in found
        for part in (
            row["text"],
            bytes(row["to_address_sealed"]).decode("latin-1"),
            bytes(row["data_sealed"]).decode("latin-1"),
        )
    )
