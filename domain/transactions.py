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
    round trips of BEGIN and COMMIT. For a block that reads and records audit events (the
    events are held and written in one statement as the block ends without an error), or
    that writes with one statement and records none: either way all or nothing. Its reads
    see what they would in a transaction, which at READ COMMITTED takes a snapshot a
    statement too; a block that locks rows, or needs one snapshot, keeps its transaction.
    """

    def __call__(self, *, autocommit: bool = False) -> AbstractAsyncContextManager[U_co]: ...
