"""The documents feature's job kind."""

from __future__ import annotations

from domain.documents.storage import store_document
from domain.files.jobs import CONTENT_RETRIES
from domain.files.staging import UploadPayload
from domain.jobs.model import JobKind

DOCUMENT_STORE = JobKind(
    name="document.store",
    queue="ipfs",
    handler=store_document,
    payload=UploadPayload,
    retry_delays=CONTENT_RETRIES,
    timeout_seconds=900.0,
)
