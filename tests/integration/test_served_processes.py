"""An API process freezes its start-up objects once started, as ``python -m api.serve``
builds it (``api.serve.freeze_start_up_objects``)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest
from litestar.testing import AsyncTestClient

import api.app
from api.serve import create_served_app, freeze_start_up_objects
from domain.settings import Settings


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def test_garbage_is_collected_first_and_what_lives_is_frozen(unfrozen: None) -> None:
    cycle = Node()
    cycle.other = Node()
    cycle.other.other = cycle  # garbage only the cycle collector can free
    gone = weakref.ref(cycle)
    del cycle
    freeze_start_up_objects()
    assert gone() is None  # collected before the freeze, not kept for ever
    assert gc.get_freeze_count() > 0


async def test_the_served_app_freezes_once_its_services_are_open(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, unfrozen: None
) -> None:
    monkeypatch.setattr(api.app, "settings_or_exit", lambda: settings)
    app = create_served_app()
    assert gc.get_freeze_count() == 0  # building the app freezes nothing
    async with AsyncTestClient(app=app) as client:
        assert gc.get_freeze_count() > 0
        assert (await client.get("/health/live")).status_code == 200
