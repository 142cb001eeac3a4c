"""A fake database of plain dicts, and the unit of work that commits to it or not at all."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from domain.clock import Clock, ManualClock


@dataclass
class FakeDatabase:
    """Every table a fake repository keeps, by name; each table is a dict keyed by row id."""

    tables: dict[str, dict[Any, Any]] = field(default_factory=dict)

    def table(self, name: str) -> dict[Any, Any]:
        return self.tables.setdefault(name, {})


# name -> builds the repository that a unit of work exposes under that name
RepositoryBuilder = Callable[[FakeDatabase, Clock], object]


class FakeUnitOfWork:
    """A transaction over a copy of the database; its repositories are attributes by name."""

    def __init__(
        self, database: FakeDatabase, clock: Clock, repositories: dict[str, RepositoryBuilder]
    ) -> None:
        self.database = database
        for name, build in repositories.items():
            setattr(self, name, build(database, clock))


class FakeUnitOfWorkFactory:
    """``async with factory() as uow``: commits on success, discards everything on an error."""

    def __init__(self, repositories: dict[str, RepositoryBuilder], clock: Clock | None = None):
        self.database = FakeDatabase()
        self.clock = clock or ManualClock()
        self.repositories = repositories
        self.commits = 0

    def __call__(self, *, autocommit: bool = False) -> AbstractAsyncContextManager[FakeUnitOfWork]:
        """``autocommit`` (a block of one write) changes nothing here: one write is kept
        whole either way."""
        return self._transaction()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[FakeUnitOfWork]:
        working = FakeDatabase(copy.deepcopy(self.database.tables))
        yield FakeUnitOfWork(working, self.clock, self.repositories)
        self.database.tables = working.tables
        self.commits += 1
