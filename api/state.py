"""How handlers reach the process's services and use cases: opened by the lifespan, kept on
``app.state``.

Controllers call use cases through ``UseCases`` (domain/wiring.py): they pass the command's
values and the caller's context, and the use case's ports come from the composition root.
``AppServices`` remains for what is not a use case (health probes, metrics, event streams)."""

from __future__ import annotations

from litestar.datastructures import State
from litestar.di import NamedDependency

from domain.adapters.bootstrap import Services
from domain.wiring import Wired

# How a handler asks for them: ``services: AppServices``, ``cases: UseCases``.
AppServices = NamedDependency[Services]
UseCases = NamedDependency[Wired]


def provide_services(state: State) -> Services:
    return state.services


def provide_use_cases(state: State) -> Wired:
    return state.use_cases
