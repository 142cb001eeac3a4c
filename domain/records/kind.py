"""Medical records as a file kind: client-encrypted blobs of at most 10 MB, kept as sent,
anchored on Stellar; the description sealed, the type a public column lists filter on.

Who may: the patient and their connected doctors upload and read the bytes;
admins may also read records' metadata and proofs (audited), never the content;
the patient (or an admin) deletes (the ``record.*`` rows of domain/policies.py).
What is only a record's: its verification and its proof's export
(domain/records/verification.py, proofs.py), and its anchor batch beside it when read.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Protocol

from domain.anchoring.model import AnchorBatch
from domain.anchoring.ports import AnchorBatchRepository
from domain.files.kind import Accepts, FileKind, FilePolicies
from domain.phi.columns import RECORD_DESCRIPTION
from domain.records.model import MAX_RECORD_BYTES, RecordDetails, StoredRecord, record_form


class WithAnchors(Protocol):
    anchors: AnchorBatchRepository


async def anchor_batches(
    uow: WithAnchors, records: Sequence[StoredRecord]
) -> list[AnchorBatch | None]:
    """Each record's anchor batch, if it is in one (read once per batch)."""
    found: dict[uuid.UUID | None, AnchorBatch | None] = {None: None}
    for record in records:
        if record.anchor_batch_id not in found:
            found[record.anchor_batch_id] = await uow.anchors.get(record.anchor_batch_id)
    return [found[record.anchor_batch_id] for record in records]


RECORDS = FileKind(
    name="record",
    table="records",
    row=StoredRecord,  # an AnchoredFile: its CID goes into a Merkle batch on Stellar
    accepts=Accepts("application/octet-stream", MAX_RECORD_BYTES),  # stored as sent
    read_form=record_form,
    sealed={"description": RECORD_DESCRIPTION},
    legacy_details=RecordDetails,
    policies=FilePolicies.of("record", read="record.read", content="record.content"),
    attach=anchor_batches,  # type: ignore[arg-type]
)
