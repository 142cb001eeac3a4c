"""The documents feature's job kind: the file pipeline's storing job, for documents."""

from __future__ import annotations

from domain.documents.kind import DOCUMENTS

DOCUMENT_STORE = DOCUMENTS.store_job
