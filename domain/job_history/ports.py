"""What retention needs from the job tables: one short batch at a time."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Protocol

import msgspec


class Position(msgspec.Struct, frozen=True):
    """Where a walk over the jobs in creation order has got to: the last job it looked at."""

    created_at: datetime
    id: uuid.UUID


class PruneStep(msgspec.Struct, frozen=True):
    """One batch: how many jobs it looked at, how many it dropped, and where it stopped
    (None when it looked at none: the walk is over)."""

    walked: int
    dropped: int
    last: Position | None


class JobHistory(Protocol):
    async def prune(self, before: datetime, after: Position | None, limit: int) -> PruneStep:
        """Look at the next ``limit`` jobs created before ``before``, in creation order after
        ``after``, and drop, with their events, those that finished before ``before`` and
        that nothing keeps (a row that references the job and does not go with it, or a
        lock held on the job right now: it is skipped, never waited for). One short
        transaction."""
        ...
