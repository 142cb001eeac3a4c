"""A record's inclusion proof and its batch's transaction, exported for offline checking
(``healthplat-verify-proof``: no database, no network)."""

from __future__ import annotations

import uuid

from domain.anchoring.model import AnchorBatch
from domain.anchoring.proof import ExportedProof, ExportedStep
from domain.auditing import AuditContext
from domain.errors import Conflict
from domain.files.reading import examine_file
from domain.policies import Access
from domain.records.kind import RECORDS
from domain.records.model import StoredRecord
from domain.records.ports import UnitOfWork
from domain.transactions import UnitOfWorkFactory


def exported_proof(record: StoredRecord, batch: AnchorBatch | None) -> ExportedProof:
    """What ``healthplat-verify-proof`` checks offline; Conflict until the record is batched."""
    if batch is None or record.proof is None or record.leaf_index is None:
        raise Conflict("the record is not in an anchor batch yet", code="not_batched")
    return ExportedProof(
        record_id=str(record.id),
        cid=record.cid,
        leaf_index=record.leaf_index,
        proof=[ExportedStep(side=step.side, hash=step.hash) for step in record.proof],  # type: ignore[arg-type]
        root=batch.root.hex(),
        network=batch.network,
        source_account=batch.source_account,
        tx_hash=batch.tx_hash,
        ledger=batch.ledger,
        envelope_xdr=batch.envelope_xdr,
    )


async def export_proof(
    access: Access,
    audit: AuditContext,
    record_id: uuid.UUID,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
) -> ExportedProof:
    """The record's proof, for a caller who may read it (audited as ``record.proof``)."""
    examined = await examine_file(
        RECORDS, access, audit, record_id, "proof", uow_factory=uow_factory
    )
    return exported_proof(examined.file, examined.attachment)  # type: ignore[arg-type]
