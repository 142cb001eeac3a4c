"""What every command endpoint shares: the Idempotency-Key header and the 202 answer.

A command handler takes ``idempotency_key`` (a dependency the API router
provides) and passes it to its domain submit function, which stores it with
the job and a hash of the command: the same key with the same body finds the
same job; with another body, a Conflict (409). The handler then answers
``accepted(submission)``. Neither piece knows which command it serves.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated

import msgspec
from litestar import Response
from litestar.di import NamedDependency
from litestar.exceptions import ValidationException
from litestar.params import HeaderParameter

from domain.jobs.model import JobStatus
from domain.jobs.ports import Submission

IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"  # visible ASCII, no spaces

# How a command handler asks for it: ``idempotency_key: IdempotencyKey``.
IdempotencyKey = NamedDependency[str | None]


class JobAccepted(msgspec.Struct, frozen=True, rename="camel"):
    job_id: uuid.UUID
    status: JobStatus


def job_location(job_id: uuid.UUID) -> str:
    return f"/api/v1/jobs/{job_id}"


def provide_idempotency_key(
    key: Annotated[
        str | None,
        HeaderParameter(
            name="Idempotency-Key",
            required=False,
            description=(
                "Makes a command safe to repeat: the same key with the same body returns "
                "the first job; with a different body, 409. 1-255 visible ASCII characters."
            ),
            # Documented here, checked below, so the error can name the header.
            schema_extra={"minLength": 1, "maxLength": 255, "pattern": IDEMPOTENCY_KEY_PATTERN},
        ),
    ] = None,
) -> str | None:
    if key is not None and not re.fullmatch(IDEMPOTENCY_KEY_PATTERN, key):
        raise ValidationException(
            "bad Idempotency-Key",
            extra=[
                {
                    "key": "Idempotency-Key",
                    "source": "header",
                    "message": "must be 1 to 255 visible ASCII characters (no spaces)",
                }
            ],
        )
    return key


def accepted(submission: Submission) -> Response[JobAccepted]:
    """202 with the job's address; a replayed key says so, so a client can tell."""
    job = submission.job
    headers = {"Location": job_location(job.id)}
    if not submission.created:
        headers["Idempotent-Replayed"] = "true"
    return Response(JobAccepted(job_id=job.id, status=job.status), status_code=202, headers=headers)
