"""The ``Allow`` header of an OPTIONS answer names every method of its path.

Litestar answers OPTIONS by itself with a handler it makes when a path's first
handler is registered; a path whose handlers arrive one by one (GET and PATCH
on ``/me``) keeps the first handler's list, so OPTIONS said ``GET, OPTIONS``
while PATCH worked too. This ``before_send`` hook rewrites that header from the
app's own table of routes, the one its 405 answers (which are right) read.
"""

from __future__ import annotations

import re
from typing import Any

from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope

from api.policy_guard import is_automatic_options

_TYPED_PARAMETER = re.compile(r"\{(\w+):[^}]+\}")


def route_methods(app: Any, path_template: str) -> list[str]:
    """Every method some handler serves on the path ``path_template`` names, sorted.

    The table is keyed by paths with typed parameters (``{job_id:uuid}``); a request's
    template names them bare (``{job_id}``)."""
    return sorted(
        {
            method
            for path, handlers in app.route_handler_method_map.items()
            if _TYPED_PARAMETER.sub(r"{\1}", path) == path_template
            for method in handlers
        }
    )


async def allow_every_method(message: Message, scope: Scope) -> None:
    if message["type"] != "http.response.start" or scope.get("method") != "OPTIONS":
        return
    handler = scope.get("route_handler")
    if handler is None or not is_automatic_options(handler):
        return
    methods = route_methods(scope["litestar_app"], scope.get("path_template", ""))
    if methods:
        MutableScopeHeaders.from_message(message)["Allow"] = ", ".join(methods)
