"""One error tree for the whole platform.

The API maps these to problem details in one place; workers map them to job
outcomes. Messages must never contain PHI or internal detail: they are shown
to clients as they are.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base class of every error the platform raises on purpose."""

    code: str = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class ValidationFailed(DomainError):
    """Raised when a command is well-formed but its content is not acceptable."""

    code = "validation_failed"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None) -> None:
        super().__init__(message, code=code)
        self.field = field


class Unauthorized(DomainError):
    """Raised when a caller did not prove who they are."""

    code = "unauthorized"


class Forbidden(DomainError):
    """Raised when a known caller may not do what they asked."""

    code = "forbidden"


class NotFound(DomainError):
    """Raised when a resource does not exist or the caller may not know it does."""

    code = "not_found"


class Conflict(DomainError):
    """Raised when a command collides with the current state (a reused key, a taken slot)."""

    code = "conflict"


class InvalidTransition(Conflict):
    """Raised when a job or entity is asked to move to a state its machine forbids."""

    code = "invalid_transition"


class JobFailure(DomainError):
    """Raised by a job handler to report why an attempt did not succeed."""

    retryable: bool = True


class TransientFailure(JobFailure):
    """Raised when an outside system failed in a way that may pass (timeout, 4xx SMTP)."""

    code = "transient_failure"
    retryable = True


class PermanentFailure(JobFailure):
    """Raised when retrying cannot help (SMTP 5xx, a record that no longer exists)."""

    code = "permanent_failure"
    retryable = False


class SealBroken(DomainError):
    """Raised when a sealed (encrypted) value does not open: wrong key, wrong place, altered."""

    code = "phi_unreadable"


class DatabaseUnavailable(TransientFailure):
    """Raised when the database cannot be reached, or does not answer in time (a restart,
    a failover, a pool with no connection free): a fault outside us, worth trying again."""

    code = "database_unavailable"


class ContentUnavailable(TransientFailure):
    """Raised when the content store (IPFS) cannot be reached or times out."""

    code = "content_store_unavailable"


class ContentMissing(NotFound):
    """Raised when the content store holds no content under the CID asked for."""

    code = "content_missing"


class PayloadTooLarge(ValidationFailed):
    """Raised when an upload is bigger than the limit for its kind (HTTP 413)."""

    code = "payload_too_large"


class RequestTimeout(DomainError):
    """Raised when a client sends its request body too slowly (HTTP 408): an upload holds a
    database transaction while its body arrives, so it may not take forever."""

    code = "request_timeout"


class UnsupportedMediaType(ValidationFailed):
    """Raised when an upload is not of a type the endpoint takes (HTTP 415)."""

    code = "unsupported_media_type"


class BadRequest(ValidationFailed):
    """Raised when a request cannot be taken as sent (no file, a PDF we refuse to store): 400."""

    code = "bad_request"


class UnstorableValue(DomainError):
    """Raised when the database refuses a value a command carried (text with a NUL character,
    above all, which PostgreSQL cannot hold): the caller's fault, and nothing was changed,
    since the transaction it was in rolled back."""

    code = "unstorable_value"
