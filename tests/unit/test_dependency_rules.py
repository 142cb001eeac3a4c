"""DESIGN.md's dependency rules, checked on every module's imports."""

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


# The operators' command line opens its own connection to find an account; it is wired like a
# composition root, not like the API, and moves with it.
DRIVER_USERS = {"api/operator_cli.py"}


@pytest.mark.parametrize(
    "path", [p for p in modules("api") if relative(p) not in DRIVER_USERS], ids=relative
)
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
    assert "domain.jobs" in imported_roots(PROJECT_ROOT / "domain" / "submit.py")
    assert "domain.settings" in imported_roots(PROJECT_ROOT / "migrations" / "env.py")
