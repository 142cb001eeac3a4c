"""A database transaction as the core sees it: a factory that opens one.

Each feature declares the unit of work it needs in its own ports (the
repositories it reads and writes in one transaction), so no module here
lists every repository of the platform; the PostgreSQL unit of work
(domain/adapters/unit_of_work.py) has them all and serves every feature.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Protocol, TypeVar

U_co = TypeVar("U_co", covariant=True)


class UnitOfWorkFactory(Protocol[U_co]):
    """Calling it opens a transaction; leaving the block commits, an exception rolls back.

    ``autocommit=True`` opens none: each statement commits by itself, which spares the
    round trips of BEGIN and COMMIT. Only for a block that writes with one statement at
    most (reads around it are fine), so that it is still all or nothing.
    """

    def __call__(self, *, autocommit: bool = False) -> AbstractAsyncContextManager[U_co]: ...
