"""The request class of the app: Litestar's, except that a body which is not UTF-8 is a 400.

msgspec raises UnicodeDecodeError (not a DecodeError) for invalid UTF-8 inside a
JSON string, which Litestar lets through as a 500. Catching it here, where the
body is decoded, keeps a server-side UnicodeDecodeError elsewhere a 500.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.exceptions import ValidationException


class ApiRequest(Request[Any, Any, Any]):
    async def json(self) -> Any:
        try:
            return await super().json()
        except UnicodeDecodeError:
            raise ValidationException(
                "request body is not UTF-8",
                extra=[{"key": "body", "message": "the body is not valid UTF-8 JSON"}],
            ) from None
