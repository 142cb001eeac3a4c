"""Keyset cursors: a page's last sort key, written plainly (domain/paging.py's patterns).

Every text a pattern matches decodes to a key, so a cursor that follows the
published pattern is never refused; any other text is not one of ours: the
client's 422.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

from domain.errors import ValidationFailed
from domain.paging import (
    POSITION_CURSOR_PATTERN,
    RISK_CURSOR_PATTERN,
    SEQUENCE_CURSOR_PATTERN,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_POSITION = re.compile(POSITION_CURSOR_PATTERN)
_SEQUENCE = re.compile(SEQUENCE_CURSOR_PATTERN)


def _not_ours() -> ValidationFailed:
    return ValidationFailed("cursor is not valid", field="cursor")


def encode_position(created_at: datetime, row_id: uuid.UUID) -> str:
    return f"{(created_at - _EPOCH) // _MICROSECOND}.{row_id.hex}"


def decode_position(text: str) -> tuple[datetime, uuid.UUID]:
    """The (created_at, id) a cursor holds; raises ValidationFailed for any other text."""
    if not _POSITION.fullmatch(text):
        raise _not_ours()
    micros, _, hex_id = text.partition(".")
    return _EPOCH + int(micros) * _MICROSECOND, uuid.UUID(hex=hex_id)


def encode_sequence(seq: int) -> str:
    return str(seq)


def decode_sequence(text: str) -> int:
    """The sequence number a cursor holds; raises ValidationFailed for any other text."""
    if not _SEQUENCE.fullmatch(text):
        raise _not_ours()
    return int(text)


_RISK = re.compile(RISK_CURSOR_PATTERN)


def encode_risk(adherence_key: int, open_alerts: int, patient_id: uuid.UUID) -> str:
    return f"{adherence_key}.{open_alerts}.{patient_id.hex}"


def decode_risk(text: str) -> tuple[int, int, uuid.UUID]:
    """The dashboard's (adherence key, open alerts, patient id); ValidationFailed otherwise."""
    if not _RISK.fullmatch(text):
        raise _not_ours()
    adherence, alerts, hex_id = text.split(".")
    return int(adherence), int(alerts), uuid.UUID(hex=hex_id)
