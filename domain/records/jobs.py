"""The records feature's job kind: the file pipeline's storing job, for records."""

from __future__ import annotations

from domain.records.kind import RECORDS

RECORD_STORE = RECORDS.store_job
