"""The routes every kind of patient file has, built from its declaration: upload (a job), list,
the content, delete.

A kind's controller (records.py, documents.py) says only what is its own: the
shapes it shows files as, its form's fields besides ``patientId``, its list's
filters, its download's headers, and the words that describe its upload and
content routes. The rest comes from the kind (domain/files/kind.py): paths,
policies and the statuses they imply (403 where a role may be refused), limits,
media type, operation ids and the use cases called; so two kinds cannot drift
apart. Handlers pass the command and the caller's context only (``cases.run``).

No ``from __future__ import annotations`` here: the handlers' annotations name
each kind's own response types, which must be real objects when Litestar reads
them to build the OpenAPI document.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency, Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIFormat, OpenAPIType, Schema
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
from domain.identity import Role
from domain.policies import policy_named

# How the list asks for its kind's own filters (``FileRoutes.filters`` provides them).
Filters = NamedDependency[dict[str, Any]]
Patient = NamedDependency[uuid.UUID | None]


# Every kind's upload names whose file it is (domain.files.kind.patient_of reads it).
PATIENT_FIELD = {"patientId": Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.UUID)}


def no_filters() -> dict[str, Any]:
    return {}


@dataclass(frozen=True, kw_only=True)
class FileRoutes:
    kind: FileKind
    read: type  # a file as the kind's routes show it, made by ``read.of(opened)``
    page: type  # the list's answer: ``items`` of ``read``, and ``next_cursor``
    upload_summary: str
    content_summary: str
    content_operation: str  # the others are named after the kind: uploadRecord, listRecords ...
    download: Callable[[OpenedFile], dict[str, str]]  # the content's own headers
    form: dict[str, Schema] = field(default_factory=dict)  # the form's fields besides patientId
    required: list[str] = field(default_factory=list)  # of those
    filters: Callable[..., dict[str, Any]] = no_filters  # the list's own query parameters
    # the file part's media types as documented, when they are not the one served (scans)
    upload_types: str | None = None


def responses(policy: str, *statuses: int) -> dict[int, ResponseSpec]:
    """A route's problems: ``statuses``, and 403 when its policy's role rule can refuse."""
    refuses_roles = policy_named(policy).roles != frozenset(Role)
    return api_responses(*statuses, *((403,) if refuses_roles else ()))


def patient_filter(patient_id: PatientFilter = None) -> uuid.UUID | None:
    return patient_id


def patient_files_controller(routes: FileRoutes) -> type[Controller]:
    """A controller with the kind's four common routes; a kind adds its own by subclassing."""
    kind = routes.kind
    policies = kind.policies
    name, names = kind.name.capitalize(), kind.table.capitalize()
    id_param = f"{kind.name}_id"
    one = f"/{{{id_param}:uuid}}"
    Read, Page = routes.read, routes.page
    form = {**PATIENT_FIELD, **routes.form}
    required = ["patientId", *routes.required]
    upload_types = routes.upload_types or kind.accepts.media_type
    upload_form = multipart_operation(form, required, file_type=upload_types)
    list_summary = f"A patient's {kind.table}, newest first (patients: their own by default)"
    delete_summary = (
        f"Delete a {kind.name} (soft; its content is unpinned after the retention period)"
    )

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
            operation_id=f"upload{name}",
            summary=routes.upload_summary,
            status_code=202,
            responses=responses(policies.upload, 400, 404, 408, 409, 413, 415, 422, 503),
            opt={"policy": policies.upload},
            request_max_body_size=body_limit(kind.accepts.max_bytes),
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
            receive = form_receiver(request, file_limit=kind.accepts.max_bytes, names=form)
            async with upload_slot(request):
                submission = await cases.run(
                    upload_file, kind, access, audit_context, receive, idempotency_key
                )
            return accepted(submission)

        @get(
            "/",
            operation_id=f"list{names}",
            summary=list_summary,
            responses=responses(policies.list, 400, 404, 422),
            opt={"policy": policies.list},
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
            return Page(items=[Read.of(file) for file in files], next_cursor=next_cursor)

        @get(
            f"{one}/content",
            operation_id=routes.content_operation,
            summary=routes.content_summary,
            responses=responses(policies.content, 400, 404, 503),
            opt={"policy": policies.content},
            media_type=kind.accepts.media_type,
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
                media_type=kind.accepts.media_type,
                headers={**headers, "Cache-Control": "no-store"},
            )

        @delete(
            one,
            operation_id=f"delete{name}",
            summary=delete_summary,
            responses=responses(policies.delete, 400, 404),
            opt={"policy": policies.delete},
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
