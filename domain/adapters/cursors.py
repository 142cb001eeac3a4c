"""Opaque keyset cursors: a page's last sort key, encoded so clients pass it back untouched."""

from __future__ import annotations

import base64
from typing import TypeVar

import msgspec

from domain.errors import ValidationFailed

T = TypeVar("T")


def encode_cursor(key: msgspec.Struct) -> str:
    raw = msgspec.json.encode(key)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str, type_: type[T]) -> T:
    """The key a cursor holds; a cursor that is not one of ours is the client's 422."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        return msgspec.json.decode(raw, type=type_)
    except (ValueError, msgspec.DecodeError):
        raise ValidationFailed("cursor is not valid", field="cursor") from None
