"""A patient's file as the pipeline keeps it, whatever its kind: the columns every kind shares.

Each kind's row (a record, a document) extends ``StoredFile`` with its own
columns, named as its table names them: its public details in the clear (a
record's type), its PHI sealed (a record's description, a document's file name).
A kind anchored on Stellar extends ``AnchoredFile``, whose CIDs go into Merkle
batches. The storing job builds a kind's row from these names alone, so a new
kind is a row struct and a declaration (domain/files/kind.py), not new code.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Generic, TypeVar

import msgspec

from domain.anchoring.model import AnchorStatus, ProofStepView


class StoredFile(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID  # the id of the upload it was stored from
    patient_id: uuid.UUID
    uploaded_by: uuid.UUID
    job_id: uuid.UUID
    cid: str
    size_bytes: int  # of the file as its owner sees it (a PDF we encrypted: the plaintext)
    created_at: datetime
    deleted_at: datetime | None = None


class AnchoredFile(StoredFile, frozen=True, kw_only=True):
    """A file of a kind anchored on Stellar: its CID waits for a batch, then keeps its proof."""

    anchor_status: AnchorStatus = AnchorStatus.PENDING
    anchor_batch_id: uuid.UUID | None = None
    leaf_index: int | None = None
    proof: list[ProofStepView] | None = None


F = TypeVar("F", bound=StoredFile)


class FileQuery(msgspec.Struct, frozen=True, kw_only=True):
    patient_id: uuid.UUID | None  # None: every patient's (for a caller who sees all)
    filters: dict[str, Any]  # public columns that must equal these values (a record's type)
    limit: int
    cursor: str | None


class FilePage(msgspec.Struct, Generic[F], frozen=True):
    files: list[F]
    next_cursor: str | None


class OpenedFile(msgspec.Struct, Generic[F], frozen=True):
    """A file for a caller who passed the access check.

    ``details``: its PHI details opened, by name (empty when they stay sealed, as in an
    admin's list of every patient's files); ``attachment``: what its kind shows beside it
    (a record's anchor batch), or None.
    """

    file: F
    details: dict[str, str | None]
    attachment: Any = None


class ContentRef(msgspec.Struct, frozen=True):
    id: uuid.UUID
    cid: str
