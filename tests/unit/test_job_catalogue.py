"""The job-kind catalogue: the README's table says what it declares, and every kind can run."""

from __future__ import annotations

import dataclasses
import inspect
import re

import pytest

from domain.adapters.bootstrap import DERIVED_DEPENDENCIES, Services
from domain.catalogue import JOB_KINDS, queues
from domain.jobs.model import Every, JobKind
from domain.jobs.submit import planner_of
from domain.settings import Settings
from domain.wiring import dependencies_of
from tests.support.paths import PROJECT_ROOT
from workers.launcher.supervisor import read_procfile

HEADER = "| kind | queue | attempts | retries after (s) | time limit (s) | started |"


def _seconds(value: float) -> str:
    return f"{value:g}"


def expected_row(kind: JobKind) -> str:
    retries = ", ".join(_seconds(d) for d in kind.retry_delays) or "none"
    if kind.periodic is None:
        started = "on demand"
    elif isinstance(kind.periodic.when, Every):
        started = f"every `{kind.periodic.when.setting.upper()}`"
    else:
        started = f"daily at {kind.periodic.when.hour:02d}:{kind.periodic.when.minute:02d} UTC"
    return (
        f"| `{kind.name}` | `{kind.queue}` | {kind.max_attempts} | {retries} "
        f"| {_seconds(kind.timeout_seconds)} | {started} |"
    )


def readme_rows() -> list[str]:
    lines = (PROJECT_ROOT / "README.md").read_text().splitlines()
    start = lines.index(HEADER) + 2  # the header and its rule
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append(line)
    return rows


def test_the_readme_table_is_the_catalogue() -> None:
    assert readme_rows() == [expected_row(kind) for kind in JOB_KINDS.values()]


def test_every_queue_has_a_pool_in_the_procfile() -> None:
    served: set[str] = set()
    for command in read_procfile(PROJECT_ROOT / "Procfile").values():
        if "dramatiq" in command and (found := re.search(r"--queues ([\w ]+?)(?: --|$)", command)):
            served.update(found.group(1).split())
    assert set(queues()) <= served


def dependency_names() -> set[str]:
    names = {f.name for f in dataclasses.fields(Services) if not f.name.startswith("_")}
    return (names - {"uow"}) | {"uow_factory", "held"} | DERIVED_DEPENDENCIES


@pytest.mark.parametrize("kind", JOB_KINDS.values(), ids=lambda kind: kind.name)
def test_every_handler_and_planner_asks_only_for_what_a_worker_has(kind: JobKind) -> None:
    positional = [
        name
        for name, parameter in inspect.signature(kind.handler).parameters.items()
        if parameter.kind is not inspect.Parameter.KEYWORD_ONLY
    ]
    assert positional == (["job", "payload"] if kind.payload is not None else ["job"])
    assert set(dependencies_of(kind.handler)) <= dependency_names()
    if kind.periodic is not None:
        plan = planner_of(kind)
        assert set(dependencies_of(plan)) == set(inspect.signature(plan).parameters)
        assert set(dependencies_of(plan)) <= dependency_names()
        if isinstance(kind.periodic.when, Every):
            assert kind.periodic.when.setting in Settings.__struct_fields__


def test_kind_names_and_actor_names_are_unique() -> None:
    assert len({kind.actor_name for kind in JOB_KINDS.values()}) == len(JOB_KINDS)
