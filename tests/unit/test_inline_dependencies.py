"""Every route's dependencies resolve one by one (api/inline_dependencies.py), in an order
that still puts each after those it depends on; and a Litestar upgrade that moves the
internals this relies on fails here, not silently."""

from __future__ import annotations

from pathlib import Path

from litestar.routes import HTTPRoute

from api.app import create_app
from tests.conftest import make_settings


def _kwargs_models(app):  # type: ignore[no-untyped-def]
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            yield from route.route_handler_map.values()


def test_no_route_resolves_a_batch_of_several_dependencies(tmp_path: Path) -> None:
    app = create_app(make_settings("postgresql://u@127.0.0.1/x", "redis://127.0.0.1/0", tmp_path))
    models = list(_kwargs_models(app))
    assert len(models) > 50
    several = [m for _, m in models if sum(len(batch) for batch in m.dependency_batches) > 1]
    assert several, "no route takes two dependencies: the module has nothing left to do"
    for _, model in models:
        assert all(len(batch) == 1 for batch in model.dependency_batches)


def test_a_dependency_still_comes_after_the_ones_it_takes(tmp_path: Path) -> None:
    app = create_app(make_settings("postgresql://u@127.0.0.1/x", "redis://127.0.0.1/0", tmp_path))
    for handler, model in _kwargs_models(app):
        seen: set[str] = set()
        for (dependency,) in model.dependency_batches:
            taken = {d.key for d in dependency.dependencies}
            assert taken <= seen, (handler, dependency.key, taken - seen)
            seen.add(dependency.key)
