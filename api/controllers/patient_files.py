"""The routes every kind of patient file has, built from its declaration: upload (a job), list,
the content, delete.

A kind's controller (records.py, documents.py) says what its routes are called
and answer (operation ids, summaries, statuses), the shapes it reads files as,
its list's own filters and its download's own headers; everything else, the
policies, paths, limits, media type and the use cases called, comes from the
kind (domain/files/kind.py), so two kinds cannot drift apart. Handlers pass the
command and the caller's context only (``cases.run``).

No ``from __future__ import annotations`` here: the handlers' annotations name
each kind's own response types, which must be real objects when Litestar reads
them to build the OpenAPI document.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency, Provide
from litestar.openapi.spec import Schema
from litestar.response import Stream

from api.audit_context import AuditContextDep
from api.commands import IdempotencyKey, JobAccepted, accepted
from api.multipart_upload import body_limit, form_receiver, upload_slot
from api.openapi import multipart_operation
from api.params import Cursor, Limit, PatientFilter
from api.policy_guard import AccessDep
from api.problems import api_responses
from api.state import UseCases
from api.streaming import prefetched
from domain.files import deletion, reading
from domain.files.kind import FileKind
from domain.files.model import OpenedFile
from domain.files.upload import upload_file

# How the list asks for its kind's own filters (``FileRoutes.filters`` provides them).
Filters = NamedDependency[dict[str, Any]]
Patient = NamedDependency[uuid.UUID | None]


class Route(msgspec.Struct, frozen=True):
    operation_id: str
    summary: str
    statuses: tuple[int, ...]  # the problems it may answer besides those every route may


@dataclass(frozen=True)
class FileRoutes:
    kind: FileKind
    form: dict[str, Schema]  # the upload form's text fields (the file part is the kind's media)
    required: list[str]
    upload: Route
    listing: Route
    content: Route
    delete: Route
    read: Callable[[OpenedFile], Any]  # a file as the kind's routes show it
    page: type  # the list's answer: ``items`` of ``read``'s type, and ``next_cursor``
    filters: Callable[..., dict[str, Any]]  # the list's own query parameters, as filters
    download: Callable[[OpenedFile], dict[str, str]]  # the content's own headers


def no_filters() -> dict[str, Any]:
    return {}


def patient_filter(patient_id: PatientFilter = None) -> uuid.UUID | None:
    return patient_id


def patient_files_controller(routes: FileRoutes) -> type[Controller]:
    """A controller with the kind's four common routes; a kind adds its own by subclassing."""
    kind = routes.kind
    id_param = f"{kind.name}_id"
    one = f"/{{{id_param}:uuid}}"
    Page = routes.page
    upload_form = multipart_operation(routes.form, routes.required, file_type=kind.media_type)

    def file_id(request: Request) -> uuid.UUID:
        return request.path_params[id_param]

    class PatientFilesController(Controller):
        path = f"/{kind.table}"
        tags = [kind.table]
        dependencies = {
            "patient": Provide(patient_filter, sync_to_thread=False),
            "filters": Provide(routes.filters, sync_to_thread=False),
        }

        @post(
            "/",
            operation_id=routes.upload.operation_id,
            summary=routes.upload.summary,
            status_code=202,
            responses=api_responses(*routes.upload.statuses),
            opt={"policy": kind.policies.upload},
            request_max_body_size=body_limit(kind.max_bytes),
            operation_class=upload_form,
        )
        async def upload(
            self,
            request: Request,
            access: AccessDep,
            audit_context: AuditContextDep,
            cases: UseCases,
            idempotency_key: IdempotencyKey,
        ) -> Response[JobAccepted]:
            receive = form_receiver(request, file_limit=kind.max_bytes, names=routes.form)
            async with upload_slot(request):
                submission = await cases.run(
                    upload_file, kind, access, audit_context, receive, idempotency_key
                )
            return accepted(submission)

        @get(
            "/",
            operation_id=routes.listing.operation_id,
            summary=routes.listing.summary,
            responses=api_responses(*routes.listing.statuses),
            opt={"policy": kind.policies.list},
        )
        async def list_files(
            self,
            access: AccessDep,
            audit_context: AuditContextDep,
            cases: UseCases,
            patient: Patient,
            filters: Filters,
            limit: Limit = 20,
            cursor: Cursor = None,
        ) -> Page:
            files, next_cursor = await cases.run(
                reading.list_files, kind, access, audit_context, patient, filters, limit, cursor
            )
            return Page(items=[routes.read(file) for file in files], next_cursor=next_cursor)

        @get(
            f"{one}/content",
            operation_id=routes.content.operation_id,
            summary=routes.content.summary,
            responses=api_responses(*routes.content.statuses),
            opt={"policy": kind.policies.content},
            media_type=kind.media_type,
        )
        async def content(
            self,
            request: Request,
            access: AccessDep,
            audit_context: AuditContextDep,
            cases: UseCases,
        ) -> Stream:
            opened, pieces = await cases.run(
                reading.file_content, kind, access, audit_context, file_id(request)
            )
            headers = {"Content-Length": str(opened.file.size_bytes), **routes.download(opened)}
            return Stream(
                await prefetched(pieces),
                media_type=kind.media_type,
                headers={**headers, "Cache-Control": "no-store"},
            )

        @delete(
            one,
            operation_id=routes.delete.operation_id,
            summary=routes.delete.summary,
            responses=api_responses(*routes.delete.statuses),
            opt={"policy": kind.policies.delete},
            status_code=204,
        )
        async def delete_file(
            self,
            request: Request,
            access: AccessDep,
            audit_context: AuditContextDep,
            cases: UseCases,
        ) -> None:
            await cases.run(deletion.delete_file, kind, access, audit_context, file_id(request))

    return PatientFilesController
