"""Documents as a file kind: PDFs of at most 10 MB that arrive in the clear, checked and then
encrypted by us (each under its own data key) before a byte is staged; the file name sealed.

Not a PDF: 415; an encrypted PDF or one with JavaScript, other active content or
an XFA form: 400 saying why (the PDF inspector). Who may: the patient and their
connected doctors upload, list and download; only the patient deletes (the
``document.*`` rows of domain/policies.py). Downloads decrypt as they stream.
"""

from __future__ import annotations

from typing import Any

from domain.documents.model import (
    MAX_DOCUMENT_BYTES,
    DocumentDetails,
    StoredDocument,
    document_form,
)
from domain.files.kind import Accepts, Encryption, FileKind, FilePolicies
from domain.files.ports import PdfInspector
from domain.phi.columns import DOCUMENT_DATA_KEY, DOCUMENT_FILENAME


async def pdf_facts(pdf: PdfInspector, data: bytes) -> dict[str, Any]:
    """A PDF we keep: its page count (refused otherwise: 415, or 400 saying why)."""
    return {"page_count": await pdf.page_count(data)}


DOCUMENTS = FileKind(
    name="document",
    table="documents",
    row=StoredDocument,
    accepts=Accepts("application/pdf", MAX_DOCUMENT_BYTES),
    encryption=Encryption(key="data_key", check=pdf_facts),
    read_form=document_form,
    sealed={"filename": DOCUMENT_FILENAME, "data_key": DOCUMENT_DATA_KEY},
    legacy_details=DocumentDetails,
    policies=FilePolicies.of("document", read=None, content="document.read"),
    content_action="download",
)
