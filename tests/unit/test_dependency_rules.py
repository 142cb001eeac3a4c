"""DESIGN.md's dependency rules, checked on every module's imports.

Besides the layer rules: ``domain/`` is a shared kernel (the modules at its
top level: errors, clock, settings, logging, sealing, auditing, policies ...)
and one package per feature. The kernel imports no feature; features import
the kernel and each other without a circle; only ``domain/catalogue.py``
(the assembly of every feature's job kinds) imports them all, and no feature
imports it.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from tests.support.paths import PROJECT_ROOT

STDLIB = set(sys.stdlib_module_names)


def modules(folder: str) -> list[Path]:
    return sorted((PROJECT_ROOT / folder).rglob("*.py"))


def imported_roots(path: Path) -> set[str]:
    """Top-level packages and first-party dotted modules imported by a file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def top(name: str) -> str:
    return name.split(".")[0]


def relative(path: Path) -> str:
    return str(path.relative_to(PROJECT_ROOT))


@pytest.mark.parametrize(
    "path", [p for p in modules("domain") if "adapters" not in p.parts], ids=relative
)
def test_domain_core_imports_only_stdlib_msgspec_structlog(path: Path) -> None:
    allowed = STDLIB | {"msgspec", "structlog", "domain", "__future__"}
    bad = {
        name
        for name in imported_roots(path)
        if top(name) not in allowed or name.startswith("domain.adapters")
    }
    assert not bad, f"{relative(path)} imports {sorted(bad)}"


@pytest.mark.parametrize("path", modules("domain"), ids=relative)
def test_domain_never_imports_api_or_workers(path: Path) -> None:
    bad = {name for name in imported_roots(path) if top(name) in {"api", "workers"}}
    assert not bad, f"{relative(path)} imports {sorted(bad)}"


@pytest.mark.parametrize("path", modules("api"), ids=relative)
def test_api_never_imports_workers(path: Path) -> None:
    bad = {name for name in imported_roots(path) if top(name) == "workers"}
    assert not bad, f"{relative(path)} imports {sorted(bad)}"


@pytest.mark.parametrize("path", modules("api"), ids=relative)
def test_api_never_imports_the_database_driver(path: Path) -> None:
    """Driver errors are translated in the adapters (``pooled``), so the API maps domain
    errors only and never needs psycopg."""
    bad = {name for name in imported_roots(path) if top(name) in {"psycopg", "psycopg_pool"}}
    assert not bad, f"{relative(path)} imports {sorted(bad)}"


@pytest.mark.parametrize("path", modules("workers"), ids=relative)
def test_workers_never_import_api(path: Path) -> None:
    bad = {name for name in imported_roots(path) if top(name) == "api"}
    assert not bad, f"{relative(path)} imports {sorted(bad)}"


@pytest.mark.parametrize("path", modules("migrations"), ids=relative)
def test_migrations_import_only_settings(path: Path) -> None:
    first_party = {
        name for name in imported_roots(path) if top(name) in {"api", "workers", "domain"}
    }
    assert first_party <= {"domain.settings"}, f"{relative(path)} imports {sorted(first_party)}"


def test_the_rules_see_real_imports() -> None:
    """Guards the guard: the parser must find the imports we know exist."""
    assert "domain.jobs.model" in imported_roots(PROJECT_ROOT / "domain" / "jobs" / "submit.py")
    assert "domain.settings" in imported_roots(PROJECT_ROOT / "migrations" / "env.py")


ASSEMBLY = "domain.catalogue"


def features() -> list[str]:
    return sorted(
        p.name
        for p in (PROJECT_ROOT / "domain").iterdir()
        if p.is_dir() and p.name != "adapters" and (p / "__init__.py").exists()
    )


def feature_of(name: str) -> str | None:
    parts = name.split(".")
    if len(parts) >= 2 and parts[0] == "domain" and parts[1] in features():
        return parts[1]
    return None


def feature_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {feature: set() for feature in features()}
    for feature in features():
        for path in (PROJECT_ROOT / "domain" / feature).rglob("*.py"):
            for name in imported_roots(path):
                other = feature_of(name)
                if other is not None and other != feature:
                    graph[feature].add(other)
    return graph


def circle_in(graph: dict[str, set[str]]) -> list[str] | None:
    """A circle of features, if any (depth-first search)."""
    state: dict[str, str] = {}
    trail: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        trail.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return [*trail[trail.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        trail.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_circle_between_features() -> None:
    assert circle_in(feature_graph()) is None, f"features in a circle: {circle_in(feature_graph())}"


def test_the_circle_finder_finds_circles() -> None:
    assert circle_in({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert circle_in({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize(
    "path",
    [p for p in (PROJECT_ROOT / "domain").glob("*.py") if p.stem != "catalogue"],
    ids=relative,
)
def test_the_kernel_imports_no_feature(path: Path) -> None:
    bad = {name for name in imported_roots(path) if feature_of(name) is not None}
    assert not bad, f"{relative(path)} is kernel but imports {sorted(bad)}"


@pytest.mark.parametrize(
    "path",
    [p for p in modules("domain") if feature_of(".".join(p.relative_to(PROJECT_ROOT).parts))],
    ids=relative,
)
def test_no_feature_imports_the_assembly(path: Path) -> None:
    assert ASSEMBLY not in imported_roots(path), f"{relative(path)} imports {ASSEMBLY}"


def test_features_are_found() -> None:
    assert {"jobs", "accounts", "records", "documents", "notifications"} <= set(features())


# The API reaches adapters only through the composition root (and the settings check that
# runs before it); everything else comes to it as ports of ``Services`` or wired use cases.
API_ADAPTER_DOORS = {"domain.adapters.bootstrap", "domain.adapters.settings_check"}


@pytest.mark.parametrize("path", modules("api"), ids=relative)
def test_the_api_reaches_adapters_only_through_the_composition_root(path: Path) -> None:
    bad = {
        name
        for name in imported_roots(path)
        if name.startswith("domain.adapters") and name not in API_ADAPTER_DOORS
    }
    assert not bad, f"{relative(path)} imports {sorted(bad)}"
