"""The request class of the app: Litestar's, with a JSON body read exactly as the schema says.

Two differences. A body which is not UTF-8 is a 400: msgspec raises
UnicodeDecodeError (not a DecodeError) for invalid UTF-8 inside a JSON string,
which Litestar lets through as a 500; catching it here, where the body is
decoded, keeps a server-side UnicodeDecodeError elsewhere a 500.

And a body must have the types the OpenAPI document states: Litestar converts
a body to the handler's ``data`` type leniently (``0`` for ``false``, ``"5"``
for ``5``), which is right for query strings and headers, where every value
is text, but would accept JSON that the schema calls invalid. So the body is
first checked strictly against that type; a mismatch is a 400 naming the field.
JSON Schema counts ``90.0`` as the integer 90, so a whole float is taken as
that integer before the check (and handed on so).
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request
from litestar.exceptions import ValidationException

_PATH_PREFIX = "$."


def _strict_error(exc: msgspec.ValidationError) -> ValidationException:
    message, _, where = str(exc).partition(" - at `")
    path = where.rstrip("`")
    key = path[len(_PATH_PREFIX) :] if path.startswith(_PATH_PREFIX) else "body"
    return ValidationException(
        "request body does not match its schema",
        extra=[{"key": key, "source": "body", "message": message}],
    )


def _whole_numbers(value: Any) -> Any:
    """``value`` with every float that is a whole number turned into that integer."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _whole_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(item) for item in value]
    return value


class ApiRequest(Request[Any, Any, Any]):
    async def json(self) -> Any:
        try:
            value = await super().json()
        except UnicodeDecodeError:
            raise ValidationException(
                "request body is not UTF-8",
                extra=[{"key": "body", "message": "the body is not valid UTF-8 JSON"}],
            ) from None
        data_field = self.route_handler.parsed_data_field
        value = _whole_numbers(value)
        if data_field is not None and value is not None:
            try:
                msgspec.convert(value, data_field.annotation, strict=True)
            except msgspec.ValidationError as exc:
                raise _strict_error(exc) from None
        return value
