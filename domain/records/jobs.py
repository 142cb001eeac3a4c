"""The records feature's job kind."""

from __future__ import annotations

from domain.files.jobs import CONTENT_RETRIES
from domain.files.staging import UploadPayload
from domain.jobs.model import JobKind
from domain.records.storage import store_record

RECORD_STORE = JobKind(
    name="record.store",
    queue="ipfs",
    handler=store_record,
    payload=UploadPayload,
    retry_delays=CONTENT_RETRIES,
    timeout_seconds=900.0,
)
