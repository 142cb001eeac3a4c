"""Prescription scans: photos (JPEG, PNG, HEIC) or PDFs of at most 10 MB, encrypted here and
kept on the content store; upload, list, download, delete.

Not one of those types → 415; an image cut short or a PDF we refuse → 400 saying why.
Every route is one every kind of file has, built from the scans' declaration
(domain/scans/kind.py, through patient_files.py); who may do what is the ``scan.*``
policies' business. Every access is audited.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody

from api.audit_context import AuditContextDep
from api.controllers.patient_files import FileRoutes, patient_files_controller
from api.controllers.prescriptions import Items, PrescriptionWritten
from api.params import PatientFilter
from api.policy_guard import AccessDep
from api.problems import api_responses
from api.state import UseCases
from domain.files.model import OpenedFile
from domain.prescriptions.model import MAX_PRESCRIBER_AS_PRINTED
from domain.scans.allowance import scan_allowance
from domain.scans.confirm import confirm_scan
from domain.scans.drafts import scan_reading
from domain.scans.files import MEDIA_TYPES, StoredScan
from domain.scans.kind import SCANS
from domain.scans.quota import ScanAllowance


class ScanRead(msgspec.Struct, frozen=True, rename="camel"):
    id: uuid.UUID
    patient_id: uuid.UUID
    uploaded_by: uuid.UUID
    media_type: str
    page_count: int
    size_bytes: int
    created_at: datetime

    @classmethod
    def of(cls, opened: OpenedFile) -> ScanRead:
        scan: StoredScan = opened.file  # type: ignore[assignment]
        return cls(
            id=scan.id,
            patient_id=scan.patient_id,
            uploaded_by=scan.uploaded_by,
            media_type=scan.media_type,
            page_count=scan.page_count,
            size_bytes=scan.size_bytes,
            created_at=scan.created_at,
        )


class ScanList(msgspec.Struct, frozen=True, rename="camel"):
    items: list[ScanRead]
    next_cursor: str | None


def scan_download(opened: OpenedFile) -> dict[str, str]:
    """The scan, decrypted, named by its id and type (a scan keeps no file name)."""
    scan: StoredScan = opened.file  # type: ignore[assignment]
    suffix = {"image/jpeg": "jpg", "image/png": "png", "image/heic": "heic"}.get(
        scan.media_type, "pdf"
    )
    return {"Content-Disposition": f'attachment; filename="scan-{scan.id}.{suffix}"'}


SCAN_ROUTES = FileRoutes(
    kind=SCANS,
    read=ScanRead,
    page=ScanList,
    upload_summary=(
        "Upload a prescription scan (multipart: patientId, file: JPEG, PNG, HEIC or PDF; at "
        "most 10 MB); 202 with the job"
    ),
    content_summary="The scan, decrypted and streamed",
    content_operation="downloadScan",
    download=scan_download,
    upload_types=", ".join(MEDIA_TYPES),
)

ScansController = patient_files_controller(SCAN_ROUTES)


PrintedName = Annotated[str, msgspec.Meta(max_length=MAX_PRESCRIBER_AS_PRINTED)]


class ScanConfirmation(msgspec.Struct, frozen=True, rename="camel", forbid_unknown_fields=True):
    """The draft's items as reviewed and edited: every field a prescription item has; and the
    prescriber's name as printed on the paper (absent: as the scan was read; "": none
    legible)."""

    items: Items
    prescriber_as_printed: PrintedName | None = None


class ScanAllowanceRead(msgspec.Struct, frozen=True, rename="camel"):
    plan: str
    allowed: int
    used: int
    remaining: int
    period_start: datetime
    resets_at: datetime

    @classmethod
    def of(cls, shown: ScanAllowance) -> ScanAllowanceRead:
        return cls(**msgspec.structs.asdict(shown), remaining=shown.remaining)


class ReadingController(Controller):
    """What was read on a scan, and the draft made of it (its own path beside the file's);
    and how many scans the patient's plan has left this month."""

    path = "/scans"
    tags = ["scans"]

    @get(
        "/allowance",
        operation_id="getScanAllowance",
        summary=(
            "A patient's scans this calendar month (UTC): the plan that sets the allowance (a live "
            "subscription's, else the free plan), scans allowed, used (stored and waiting "
            "uploads), remaining, and when the count starts again"
        ),
        responses=api_responses(400, 403, 404, 422),
        opt={"policy": "scan.list"},
    )
    async def allowance(
        self,
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
        patient_id: PatientFilter = None,
    ) -> ScanAllowanceRead:
        shown = await cases.run(scan_allowance, access, audit_context, patient_id)
        return ScanAllowanceRead.of(shown)

    @get(
        "/{scan_id:uuid}/reading",
        operation_id="readScanReading",
        summary=(
            "What OCR read on the scan and the draft prescription made of it: each field with "
            "its confidence and whether it needs review; 404 until the scan.read job succeeded"
        ),
        responses=api_responses(403, 404),
        opt={"policy": "scan.read"},
    )
    async def reading(
        self,
        scan_id: FromPath[uuid.UUID],
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> dict[str, Any]:
        reading = await cases.run(scan_reading, access, audit_context, scan_id)
        shown = msgspec.to_builtins(reading)
        for item, shown_item in zip(reading.draft.items, shown["draft"]["items"], strict=True):
            shown_item["needsReview"] = item.needs_review
        return shown

    @post(
        "/{scan_id:uuid}/confirm",
        operation_id="confirmScan",
        summary=(
            "The patient or a connected doctor confirms the reviewed items: a draft prescription "
            "with source scan (a doctor's is theirs; a patient's own has no doctor, only the "
            "prescriber as printed, and the patient activates it); 409 if the scan is not read "
            "or already confirmed"
        ),
        status_code=201,
        responses=api_responses(400, 403, 404, 409, 413, 422),
        opt={"policy": "scan.confirm"},
    )
    async def confirm(
        self,
        scan_id: FromPath[uuid.UUID],
        data: JSONBody[ScanConfirmation],
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> PrescriptionWritten:
        items = [item.input() for item in data.items]
        prescribed = await cases.run(
            confirm_scan, access, audit_context, scan_id, items, data.prescriber_as_printed
        )
        return PrescriptionWritten.written(prescribed)
