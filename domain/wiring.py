"""Dependencies given by name: how use cases and job handlers meet the adapters.

A use case (or a job handler, or a periodic planner) lists what it needs from
the outside as keyword-only parameters after ``*``, named as the composition
root names them (``uow_factory``, ``clock``, ``cipher``, ``content``,
``mailer`` ... ``Services.dependencies()`` in domain/adapters/bootstrap.py).
``inject`` fills exactly those, once, and returns a callable that takes only
the rest: the command's values and the caller's context. A parameter nobody
provides is an error when the process wires itself, not at the first call.
Tests wire the same functions to in-memory fakes (tests/fakes/).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any


class MissingDependency(TypeError):
    """Raised when a function asks for a dependency that nobody provides."""


def dependencies_of(func: Callable[..., Any]) -> list[str]:
    """The names ``func`` wants injected: its keyword-only parameters without a default."""
    return [
        name
        for name, parameter in inspect.signature(func).parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
        and parameter.default is inspect.Parameter.empty
    ]


def _name_of(func: Callable[..., Any]) -> str:
    # a partial: a handler bound to what it serves (a file kind's storing job)
    target = func.func if isinstance(func, functools.partial) else func
    return f"{target.__module__}.{target.__qualname__}"


def inject(func: Callable[..., Any], dependencies: Mapping[str, object]) -> Callable[..., Any]:
    wanted = dependencies_of(func)
    missing = [name for name in wanted if name not in dependencies]
    if missing:
        raise MissingDependency(f"{_name_of(func)} needs {', '.join(missing)}")
    return functools.partial(func, **{name: dependencies[name] for name in wanted})


class Wired:
    """Use cases wired to one set of dependencies, each once (on first use), by function."""

    def __init__(self, dependencies: Mapping[str, object]) -> None:
        self._dependencies = dict(dependencies)
        self._wired: dict[Callable[..., Any], Callable[..., Any]] = {}

    def __call__(self, func: Callable[..., Any]) -> Callable[..., Any]:
        try:
            return self._wired[func]
        except KeyError:
            wired = self._wired[func] = inject(func, self._dependencies)
            return wired

    async def run(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``await func(*args, **kwargs, <its dependencies>)``: what a controller calls."""
        return await self(func)(*args, **kwargs)


class Dispatch:
    """A table of handlers by key (a webhook's provider and event type, a payment's purpose),
    each wired on first use to the dependencies it names. Features fill the table (it is
    assembled in domain/catalogue.py); the dispatcher looks a key up, it never asks ifs.

    ``dependencies`` is read when a handler is first wired, not copied here, so the table may
    sit among the very dependencies its handlers are wired from.
    """

    def __init__(
        self, table: Mapping[Any, Callable[..., Any]], dependencies: Mapping[str, object]
    ) -> None:
        self._table = dict(table)
        self._dependencies = dependencies
        self._wired: dict[Any, Callable[..., Any]] = {}

    def __contains__(self, key: object) -> bool:
        return key in self._table

    def keys(self) -> list[Any]:
        return list(self._table)

    def handler(self, key: Any) -> Callable[..., Any] | None:
        """The handler of ``key`` with its dependencies filled, or None if nobody handles it."""
        if key not in self._table:
            return None
        if key not in self._wired:
            self._wired[key] = inject(self._table[key], self._dependencies)
        return self._wired[key]
