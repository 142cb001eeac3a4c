"""The cursor of every newest-first listing (jobs, connections): the last row's (created_at, id).

Encoding is ``cursors.py``'s; this module only fixes the sort key, so every
such listing pages the same way.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Protocol

import msgspec

from domain.adapters.cursors import decode_cursor, encode_cursor


class Keyed(Protocol):
    @property
    def created_at(self) -> datetime: ...

    @property
    def id(self) -> uuid.UUID: ...


class Position(msgspec.Struct, array_like=True):
    created_at: datetime
    id: uuid.UUID


def cursor_after(row: Keyed) -> str:
    return encode_cursor(Position(row.created_at, row.id))


def position_of(cursor: str) -> Position:
    """Raises ValidationFailed (field ``cursor``) for a cursor that is not one of ours."""
    return decode_cursor(cursor, Position)
