"""How handlers reach the process's services: opened by the lifespan, kept on ``app.state``."""

from __future__ import annotations

from litestar.datastructures import State
from litestar.di import NamedDependency

from domain.adapters.bootstrap import Services

# How a handler asks for them: ``services: AppServices``.
AppServices = NamedDependency[Services]


def provide_services(state: State) -> Services:
    return state.services
