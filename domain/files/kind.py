"""A file kind: what differs between a patient's kinds of file, declared once per kind.

Records and documents (and the kinds to come) share one path: upload → staging →
job → store → list → read → delete → retention (the modules of this package). A
kind says only what differs: its name, the media and size it accepts, whether we
encrypt its bytes ourselves or store them as the client sent them, its details
(the upload form, checked; which of them are PHI, sealed in which column), the
policies of its routes, and its row (``row``: a ``StoredFile`` or, for a kind
anchored on Stellar, an ``AnchoredFile``). Adding a kind is a declaration, its
row struct, its table and its routes' policies, not a copy of the path.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec

from domain.errors import ValidationFailed
from domain.files.jobs import store_job
from domain.files.model import AnchoredFile, StoredFile
from domain.files.ports import PdfInspector
from domain.files.staging import UploadPayload
from domain.files.storing import store_upload
from domain.files.uploads import ReceivedForm, UploadForm
from domain.jobs.model import Job, JobKind, NewJob
from domain.sealing import SealedColumn


class FilePolicies(msgspec.Struct, frozen=True, kw_only=True):
    """The rows of ``domain/policies.py`` that the kind's routes name (who may do what)."""

    upload: str
    list: str
    read: str | None  # None: the kind has no route that reads one file's metadata
    content: str
    delete: str

    @classmethod
    def of(cls, name: str, *, read: str | None, content: str) -> FilePolicies:
        """``<name>.create``, ``<name>.list`` and ``<name>.delete``, and the two that differ."""
        return cls(
            upload=f"{name}.create", list=f"{name}.list", read=read, content=content,
            delete=f"{name}.delete",
        )  # fmt: skip


class Accepts(msgspec.Struct, frozen=True):
    """What an upload's file part may be: documented as ``media_type`` (and served as it),
    at most ``max_bytes`` (413 beyond, refused as the bytes arrive)."""

    media_type: str
    max_bytes: int


# Checks an upload's form (ValidationFailed naming the field: a 422).
ReadForm = Callable[[ReceivedForm], UploadForm]
# Checks a plaintext file whole before we keep it (UnsupportedMediaType, BadRequest) and
# returns what it learnt, as details (a PDF's page count).
ContentCheck = Callable[[PdfInspector, bytes], Awaitable[dict[str, Any]]]
# What a read shows beside each file, loaded in the read's transaction (a record's batch).
Attach = Callable[[Any, Sequence[StoredFile]], Awaitable[list[Any]]]
# The job that follows a stored file (a scan's reading), enqueued in the transaction that
# writes its row: given the file and its storing job.
Then = Callable[[StoredFile, Job], NewJob]
# Whether one more upload of the kind is allowed for the patient now (a scan quota): run in
# the upload's transaction when its job is new, before its row is written; raises to refuse,
# and the refusal rolls back the job and the staged bytes. Given the unit of work, the
# patient's id and the time.
Admit = Callable[[Any, uuid.UUID, datetime], Awaitable[None]]


class Encryption(msgspec.Struct, frozen=True, kw_only=True):
    """A kind whose files arrive in the clear: checked whole, then encrypted here under a
    fresh data key before a byte is staged, so staging, IPFS and logs only see ciphertext.

    The data key is the detail ``key`` (sealed like PHI, in its own column: key rotation
    re-wraps it without touching IPFS); the ciphertext is bound to the file's id.
    """

    key: str
    check: ContentCheck


@dataclass(frozen=True, eq=False, repr=False)
class FileKind:
    name: str  # "record": the audit resource, the actions' prefix, the upload's purpose
    table: str  # "records": its table, and its repository in a unit of work (``files``)
    row: type[StoredFile]
    accepts: Accepts
    read_form: ReadForm
    sealed: Mapping[str, SealedColumn]  # the PHI among its details: name -> its column
    policies: FilePolicies
    encryption: Encryption | None = None  # None: kept exactly as the client sent it
    # The JSON its uploads' details were sealed as before migration 0009, by field name.
    legacy_details: type[msgspec.Struct] | None = None
    content_action: str = "content"  # the audit action of reading the bytes
    attach: Attach | None = None
    then: Then | None = None
    admit: Admit | None = None
    store_job: JobKind = field(init=False)

    def __post_init__(self) -> None:
        # every kind's job runs the one storing path (domain/files/storing.py), for this kind
        handler = functools.partial(store_upload, self)
        object.__setattr__(self, "store_job", store_job(self.name, handler, UploadPayload))

    def __repr__(self) -> str:
        return f"FileKind({self.name!r})"

    @property
    def anchored(self) -> bool:
        """Whether its CIDs are anchored on Stellar (the anchoring job batches its rows)."""
        return issubclass(self.row, AnchoredFile)

    @property
    def shown(self) -> tuple[str, ...]:
        """The PHI details a reader sees opened (a data key is never shown)."""
        key = self.encryption.key if self.encryption else None
        return tuple(name for name in self.sealed if name != key)


def patient_of(fields: Mapping[str, str]) -> uuid.UUID:
    """The form's ``patientId``: every kind's upload names whose file it is."""
    try:
        return uuid.UUID((fields.get("patientId") or "").strip())
    except ValueError:
        raise ValidationFailed("patientId must be a patient's id", field="patientId") from None
