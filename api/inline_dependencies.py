"""Resolve each route's dependencies one after another, not in a task group.

Litestar resolves a batch of dependencies that do not depend on each other
concurrently, in an anyio task group: a task per dependency, on every request
that takes more than one. Ours (``services``, ``cases``, ``principal``, ``access``,
``audit_context``, ``idempotency_key``) are synchronous lookups of a few
microseconds, so the tasks cost more than they could save (two tasks per request
for most routes). Splitting each batch into batches of one keeps the order Litestar
computed (a dependency still comes after those it depends on) and makes
``resolve_dependencies`` await each in line.

This reaches into the routes' kwargs models (``route_handler_map``,
``dependency_batches``, Litestar 2.x); ``tests/unit/test_inline_dependencies.py``
fails if a Litestar upgrade moves them.
"""

from __future__ import annotations

from litestar import Litestar
from litestar.routes import HTTPRoute


def resolve_dependencies_in_line(app: Litestar) -> int:
    """Split every HTTP route's dependency batches into singletons; how many were split."""
    split = 0
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for _handler, kwargs_model in route.route_handler_map.values():
            batches = kwargs_model.dependency_batches
            if any(len(batch) > 1 for batch in batches):
                kwargs_model.dependency_batches = [{d} for batch in batches for d in batch]
                split += 1
    return split
