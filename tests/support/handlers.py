"""Job handlers as the worker runs them, for tests that call one directly."""

from __future__ import annotations

from typing import Any

from domain.adapters.bootstrap import Services
from domain.anchoring.jobs import ANCHOR_BATCH
from domain.audit.jobs import AUDIT_PARTITIONS
from domain.documents.jobs import DOCUMENT_STORE
from domain.jobs.model import Job, JobKind
from domain.notifications.jobs import EMAIL_SEND
from domain.phi.jobs import PHI_ROTATE
from domain.records.jobs import RECORD_STORE
from workers.handlers import BoundHandler, bind, bind_plan, worker_dependencies


def handler_of(kind: JobKind, services: Services, **overrides: object) -> BoundHandler:
    """``kind``'s handler bound to ``services`` (and any dependency the test replaces)."""
    return bind(kind, {**worker_dependencies(services), **overrides})


async def run_handler(kind: JobKind, job: Job, services: Services) -> dict[str, Any] | None:
    return await handler_of(kind, services)(job)


# The catalogue's handlers with the worker's bindings, called as tests call them.


async def send_email(job: Job, services: Services) -> dict[str, Any] | None:
    return await run_handler(EMAIL_SEND, job, services)


async def maintain_partitions(job: Job, services: Services) -> dict[str, Any] | None:
    return await run_handler(AUDIT_PARTITIONS, job, services)


async def rotate_phi_keys(job: Job, services: Services) -> dict[str, Any] | None:
    return await run_handler(PHI_ROTATE, job, services)


async def record_store(job: Job, services: Services) -> dict[str, Any] | None:
    return await run_handler(RECORD_STORE, job, services)


async def document_store(job: Job, services: Services) -> dict[str, Any] | None:
    return await run_handler(DOCUMENT_STORE, job, services)


async def anchor_batch(job: Job, services: Services) -> dict[str, Any] | None:
    return await run_handler(ANCHOR_BATCH, job, services)


async def enqueue_audit_partitions(services: Services) -> None:
    """What the scheduler runs for the audit upkeep kind."""
    from workers.scheduler import plan_quietly

    await plan_quietly(AUDIT_PARTITIONS, bind_plan(AUDIT_PARTITIONS, services.dependencies()))
