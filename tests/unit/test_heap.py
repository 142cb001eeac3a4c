"""Start-up objects frozen out of the garbage collector's full passes (domain/heap.py)."""

from __future__ import annotations

import gc
import weakref

from domain.heap import freeze_start_up_objects


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def test_garbage_is_collected_first_and_what_lives_is_frozen() -> None:
    kept = Node()
    cycle = Node()
    cycle.other = Node()
    cycle.other.other = cycle  # garbage only the cycle collector can free
    gone = weakref.ref(cycle)
    del cycle
    try:
        freeze_start_up_objects()
        assert gone() is None  # collected before the freeze, not frozen for ever
        assert gc.get_freeze_count() > 0
        assert gc.is_tracked(kept)
    finally:
        gc.unfreeze()
