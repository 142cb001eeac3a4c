"""The cursor of every newest-first listing (jobs, connections): the last row's (created_at, id).

Encoding is ``cursors.py``'s; this module only fixes the sort key, so every
such listing pages the same way.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Protocol, TypeVar

import msgspec
from psycopg import sql

from domain.adapters.cursors import decode_position, encode_position


class Keyed(Protocol):
    @property
    def created_at(self) -> datetime: ...

    @property
    def id(self) -> uuid.UUID: ...


K = TypeVar("K", bound=Keyed)


class Position(msgspec.Struct, frozen=True):
    created_at: datetime
    id: uuid.UUID


def cursor_after(row: Keyed) -> str:
    return encode_position(row.created_at, row.id)


def position_of(cursor: str) -> Position:
    """Raises ValidationFailed (field ``cursor``) for a cursor that is not one of ours."""
    return Position(*decode_position(cursor))


def newest_first_filter(
    cursor: str | None, alias: str, params: dict[str, object]
) -> list[sql.Composable]:
    """The WHERE clause that resumes a newest-first listing after ``cursor`` (none: start)."""
    if cursor is None:
        return []
    position = position_of(cursor)
    params.update(c_at=position.created_at, c_id=position.id)
    return [
        sql.SQL("({a}.created_at, {a}.id) < (%(c_at)s, %(c_id)s)").format(a=sql.Identifier(alias))
    ]


def cut_page(rows: list[K], limit: int) -> tuple[list[K], str | None]:
    """Rows fetched with LIMIT limit+1: the page, and the cursor of the next one if any."""
    page = rows[:limit]
    return page, cursor_after(page[-1]) if len(rows) > limit else None
