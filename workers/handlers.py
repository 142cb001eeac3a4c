"""Job handlers bound to their dependencies: the one place a kind's handler meets the adapters.

A kind's handler (domain/<feature>/jobs.py) names what it needs as
parameters after the job; ``bind`` fills them by name from the worker's
dependencies, once, when the worker boots (a name nobody provides is an error
then, not at the first job), and decodes the job's payload into the kind's
payload struct for each attempt. A payload that does not decode is a job
nobody could have meant: it fails for good.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import msgspec

from domain.adapters.bootstrap import Services
from domain.catalogue import JOB_KINDS
from domain.errors import PermanentFailure
from domain.jobs.model import Job, JobKind
from workers.durable import while_held

BoundHandler = Callable[[Job], Awaitable[dict[str, Any] | None]]

PER_ATTEMPT = frozenset({"job", "payload"})


def bind(kind: JobKind, dependencies: Mapping[str, object]) -> BoundHandler:
    parameters = list(inspect.signature(kind.handler).parameters)
    missing = [name for name in parameters[1:] if name not in PER_ATTEMPT | set(dependencies)]
    if missing:
        raise TypeError(f"{kind.name}: no dependency named {', '.join(missing)}")
    fixed = {name: dependencies[name] for name in parameters[1:] if name not in PER_ATTEMPT}
    wants_payload = "payload" in parameters

    async def handle(job: Job) -> dict[str, Any] | None:
        arguments = dict(fixed)
        if wants_payload:
            arguments["payload"] = payload_of(kind, job)
        return await kind.handler(job, **arguments)

    return handle


def payload_of(kind: JobKind, job: Job) -> msgspec.Struct | None:
    if kind.payload is None:
        return None
    try:
        return msgspec.convert(job.payload, kind.payload)
    except msgspec.ValidationError:
        raise PermanentFailure(
            f"the job's payload is not one a {kind.name} job takes", code="payload_invalid"
        ) from None


def bind_plan(kind: JobKind, dependencies: Mapping[str, object]) -> Callable[[], Awaitable[object]]:
    """A periodic kind's planner with its dependencies filled in by name."""
    if kind.periodic is None:
        raise TypeError(f"{kind.name} is not periodic")
    plan = kind.periodic.plan
    names = list(inspect.signature(plan).parameters)
    missing = [name for name in names if name not in dependencies]
    if missing:
        raise TypeError(f"{kind.name}'s planner: no dependency named {', '.join(missing)}")
    arguments = {name: dependencies[name] for name in names}
    return lambda: plan(**arguments)


def worker_dependencies(services: Services) -> dict[str, object]:
    """What a handler may ask for: the process's services, and ``held`` (workers/durable.py)."""
    return {**services.dependencies(), "held": while_held}


def bound_handlers(services: Services) -> dict[str, BoundHandler]:
    """Every kind's handler, bound once for a worker process."""
    dependencies = worker_dependencies(services)
    return {name: bind(kind, dependencies) for name, kind in JOB_KINDS.items()}
