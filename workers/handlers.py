"""Job handlers bound to their dependencies: the one place a kind's handler meets the adapters.

A kind's handler (domain/<feature>/jobs.py) takes the job, the job's payload
if its kind has a payload struct, and its dependencies as keyword-only
parameters (domain/wiring.py). They are wired once, when the worker boots (a
dependency nobody provides is an error then, not at the first job); the
payload is decoded for each attempt. A payload that does not decode is a job
nobody could have meant: it fails for good.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import msgspec

from domain.adapters.bootstrap import Services
from domain.catalogue import JOB_KINDS
from domain.errors import PermanentFailure
from domain.jobs.model import Job, JobKind
from domain.jobs.submit import planner_of
from domain.wiring import inject
from workers.durable import while_held

BoundHandler = Callable[[Job], Awaitable[dict[str, Any] | None]]


def bind(kind: JobKind, dependencies: Mapping[str, object]) -> BoundHandler:
    wired = inject(kind.handler, dependencies)

    async def handle(job: Job) -> dict[str, Any] | None:
        if kind.payload is None:
            return await wired(job)
        return await wired(job, payload_of(kind, job))

    return handle


def payload_of(kind: JobKind, job: Job) -> msgspec.Struct:
    assert kind.payload is not None
    try:
        return msgspec.convert(job.payload, kind.payload)
    except msgspec.ValidationError:
        raise PermanentFailure(
            f"the job's payload is not one a {kind.name} job takes", code="payload_invalid"
        ) from None


def bind_plan(kind: JobKind, dependencies: Mapping[str, object]) -> Callable[[], Awaitable[object]]:
    """A periodic kind's planner with its dependencies wired in."""
    return inject(planner_of(kind), dependencies)


def worker_dependencies(services: Services) -> dict[str, object]:
    """What a handler may ask for: the process's services, and ``held`` (workers/durable.py)."""
    return {**services.dependencies(), "held": while_held}


def bound_handlers(services: Services) -> dict[str, BoundHandler]:
    """Every kind's handler, bound once for a worker process."""
    dependencies = worker_dependencies(services)
    return {name: bind(kind, dependencies) for name, kind in JOB_KINDS.items()}
