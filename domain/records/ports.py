"""What a record's own use cases read: the file pipeline's transaction, with anchor batches."""

from __future__ import annotations

from typing import Protocol

from domain.anchoring.ports import AnchorBatchRepository
from domain.files.ports import UnitOfWork as FilesUnitOfWork


class UnitOfWork(FilesUnitOfWork, Protocol):
    """The files feature's unit of work, and the batches records are anchored in."""

    anchors: AnchorBatchRepository
