"""Query parameters that several listings share, declared once so they read the same everywhere."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import msgspec
from litestar.exceptions import ValidationException
from litestar.params import QueryParameter

from domain.paging import POSITION_CURSOR_PATTERN, RISK_CURSOR_PATTERN, SEQUENCE_CURSOR_PATTERN

# Litestar leaves a bound of 0 out of the schema (it reads ``ge=0`` as "no bound"): parameters
# with ``ge=0`` state it again with this.
ZERO_MINIMUM = {"minimum": 0}

Limit = Annotated[int, QueryParameter(ge=1, le=100)]
Cursor = Annotated[
    str | None,
    QueryParameter(
        max_length=512,
        description="nextCursor of the previous page",
        # Stated here, checked by the listing (422), which names the field.
        schema_extra={"pattern": POSITION_CURSOR_PATTERN},
    ),
]
SequenceCursor = Annotated[
    str | None,
    QueryParameter(
        max_length=512,
        description="nextCursor of the previous page",
        schema_extra={"pattern": SEQUENCE_CURSOR_PATTERN},
    ),
]
PatientFilter = Annotated[
    uuid.UUID | None,
    QueryParameter(name="patientId", description="whose files; a patient's own by default"),
]


def moment_parameter(name: str, description: str) -> QueryParameter:
    """A date-time query parameter, read by ``moment``. Typed as text so that Litestar's lenient
    conversion (``0.5`` taken as a Unix time) does not accept what the schema calls invalid."""
    return QueryParameter(name=name, description=description, schema_extra={"format": "date-time"})


def moment(value: str | None, name: str) -> datetime | None:
    """An RFC 3339 date-time with its UTC offset (the schema's ``date-time``); else a 400."""
    if value is None:
        return None
    try:
        parsed = msgspec.convert(value, datetime, strict=True)
    except msgspec.ValidationError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise ValidationException(
            f"bad {name}",
            extra=[
                {
                    "key": name,
                    "source": "query",
                    "message": "must be an RFC 3339 date-time with its offset",
                }
            ],
        )
    return parsed


RiskCursor = Annotated[
    str | None,
    QueryParameter(
        max_length=512,
        description="nextCursor of the previous page",
        schema_extra={"pattern": RISK_CURSOR_PATTERN},
    ),
]
