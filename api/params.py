"""Query parameters that several listings share, declared once so they read the same everywhere."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar.params import QueryParameter

Limit = Annotated[int, QueryParameter(ge=1, le=100)]
Cursor = Annotated[
    str | None, QueryParameter(max_length=512, description="nextCursor of the previous page")
]
PatientFilter = Annotated[
    uuid.UUID | None,
    QueryParameter(name="patientId", description="whose files; a patient's own by default"),
]
