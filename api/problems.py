"""Every error a client can see, as RFC 9457 problem details, decided in this one module.

What reaches a client is chosen: a domain error's message (written to be
shown), a field list for bad input, Litestar's short 4xx detail (a status
phrase or a parser position), or a generic sentence. Internal exception text
(driver errors, Litestar's validation detail, which quotes the URL with its
query string) never leaves the process, and an unexpected error is logged by
type and frame only, since its text may hold PHI.
"""

from __future__ import annotations

import http
import re
from collections.abc import Callable, Mapping
from typing import Any

import msgspec
import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi import ResponseSpec
from litestar.types import ExceptionHandlersMap

from domain.errors import (
    BadRequest,
    Conflict,
    DatabaseUnavailable,
    DomainError,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    RequestTimeout,
    TransientFailure,
    Unauthorized,
    UnstorableValue,
    UnsupportedMediaType,
    ValidationFailed,
)
from domain.logging import exception_fields

log = structlog.get_logger(__name__)

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "tag:healthplat,2025:problem:"
MAX_MESSAGE_LENGTH = 300
DATABASE_RETRY_AFTER_SECONDS = 5
_KEY_ERROR = re.compile(r"'[\w.-]*'")

# Most specific first: InvalidTransition is a Conflict, so it lands on 409 too.
DOMAIN_STATUS: tuple[tuple[type[DomainError], int], ...] = (
    (PayloadTooLarge, 413),
    (RequestTimeout, 408),
    (UnsupportedMediaType, 415),
    (BadRequest, 400),
    (UnstorableValue, 400),
    (ValidationFailed, 422),
    (Unauthorized, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    # an outside system (IPFS, Horizon) did not answer a read: the client may try again
    (TransientFailure, 503),
)


class FieldError(msgspec.Struct, frozen=True):
    field: str
    message: str


class Problem(msgspec.Struct, frozen=True, omit_defaults=True):
    """The body of every error response (and the OpenAPI schema of it)."""

    type: str
    title: str
    status: int
    detail: str
    code: str | None = None
    errors: list[FieldError] | None = None


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _code_for(status: int) -> str:
    return _phrase(status).lower().replace(" ", "_").replace("-", "_")


def problem_response(
    status: int,
    detail: str,
    *,
    code: str | None = None,
    errors: list[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
    extensions: Mapping[str, Any] | None = None,
) -> Response[Any]:
    code = code or _code_for(status)
    problem = Problem(
        type=TYPE_PREFIX + code,
        title=_phrase(status),
        status=status,
        detail=detail,
        code=code,
        errors=errors,
    )
    body = msgspec.to_builtins(problem)
    if extensions:
        body.update({key: value for key, value in extensions.items() if key not in body})
    return Response(
        content=msgspec.json.encode(body),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=dict(headers or {}),
    )


def _www_authenticate(exc: Exception) -> dict[str, str]:
    # RFC 6750 section 3: no error code when the request had no credentials at all.
    if getattr(exc, "code", None) == "invalid_token":
        return {"WWW-Authenticate": 'Bearer error="invalid_token"'}
    return {"WWW-Authenticate": "Bearer"}


def _domain_error(request: Request[Any, Any, Any], exc: DomainError) -> Response[Any]:
    status = next((code for cls, code in DOMAIN_STATUS if isinstance(exc, cls)), None)
    if status is None:  # JobFailure and the like are worker-side; reaching here is a bug
        return _unexpected(request, exc)
    errors = None
    if isinstance(exc, ValidationFailed):
        errors = [FieldError(field=exc.field or "body", message=exc.message)]
    headers = _www_authenticate(exc) if status == 401 else None
    if isinstance(exc, DatabaseUnavailable):
        _log_error(log.warning, "database_unavailable", request, exc)
        headers = {"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)}
    elif isinstance(exc, UnstorableValue):
        _log_error(log.warning, "request_value_unstorable", request, exc)
    # an error may carry a few more plain members for the client (a quota's allowance)
    extensions = getattr(exc, "extensions", None)
    return problem_response(
        status, exc.message, code=exc.code, errors=errors, headers=headers, extensions=extensions
    )


def _field_errors(extra: Any) -> list[FieldError]:
    """Litestar's validation messages, keeping only the location and msgspec's short message."""
    if not isinstance(extra, list):
        return []
    found = []
    for item in extra:
        if not isinstance(item, Mapping):
            continue
        field = str(item.get("key") or item.get("source") or "body")
        message = str(item.get("message") or "is not valid")[:MAX_MESSAGE_LENGTH]
        if _KEY_ERROR.fullmatch(message):  # Litestar's text for an absent value is a KeyError's
            message = "is required"
            if item.get("source") == "body":  # "data" is Litestar's name for the whole body
                field = "body"
        found.append(FieldError(field=field, message=message))
    return found


def _validation_error(_: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    errors = _field_errors(exc.extra)
    return problem_response(
        400,
        "the request is malformed or has parameters of the wrong type",
        code="bad_request",
        errors=errors or None,
    )


def _http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    if status >= 500:
        return _unexpected(request, exc)
    # Litestar's own 4xx details are fixed phrases ("Not Found"); the ones our code
    # raises carry no client data. Keep them, but never past a sane length.
    detail = str(exc.detail or _phrase(status))[:MAX_MESSAGE_LENGTH]
    headers = dict(exc.headers or {})
    if status == 401:
        headers.update(_www_authenticate(exc))
    return problem_response(status, detail, headers=headers)


def _log_error(
    emit: Callable[..., Any], event: str, request: Request[Any, Any, Any], exc: Exception
) -> None:
    """An error as operators see it: the route template and the exception's type and frame,
    never its text (it may quote the request)."""
    emit(
        event,
        method=request.scope.get("method"),
        route=request.scope.get("path_template"),
        **exception_fields(exc),
    )


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    _log_error(log.error, "unhandled_error", request, exc)
    return problem_response(500, "an unexpected error occurred; it has been logged")


_DESCRIPTIONS = {
    400: "Malformed request: bad JSON, a wrong type, a bad header or query parameter",
    401: "Missing, invalid or expired bearer token",
    403: "The caller's role may not do this",
    404: "No such resource, or not the caller's",
    408: "The request body arrived too slowly (uploads have a deadline)",
    409: "Conflicts with the current state, or a reused Idempotency-Key",
    413: "Request body too large",
    415: "The body is not of a media type this operation takes",
    422: "Well-formed but not acceptable; see errors",
    429: "Too many requests; wait the seconds in Retry-After (see RateLimit-* headers)",
    503: "A dependency is unavailable (the database, the rate limiter's store); see Retry-After",
}
# What any /api/v1 operation may answer, whatever it does: the rate limiter's refusal, and a
# database (or, on the credential routes, a rate limiter) that is down.
API_STATUSES = (429, 503)


def problem_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the problems an operation can answer, all with this module's body."""
    return {
        status: ResponseSpec(
            Problem,
            description=_DESCRIPTIONS.get(status, _phrase(status)),
            media_type=PROBLEM_JSON,
            generate_examples=False,
        )
        for status in statuses
    }


def api_responses(*statuses: int, token: bool = True) -> dict[int, ResponseSpec]:
    """The problems of an /api/v1 operation: its own ``statuses``, those any of them may
    answer (``API_STATUSES``), and 401 when it takes a bearer token."""
    common = {*API_STATUSES, *((401,) if token else ())}
    return problem_responses(*sorted({*statuses, *common}))


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    DomainError: _domain_error,
    ValidationException: _validation_error,
    HTTPException: _http_exception,
    Exception: _unexpected,
}
