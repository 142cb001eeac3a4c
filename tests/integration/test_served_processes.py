"""An API process freezes its start-up objects once started, as ``python -m api.serve``
builds it (domain/heap.py)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from litestar.testing import AsyncTestClient

import api.app
from api.serve import create_served_app
from domain.settings import Settings


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


async def test_the_served_app_freezes_once_its_services_are_open(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, unfrozen: None
) -> None:
    monkeypatch.setattr(api.app, "settings_or_exit", lambda: settings)
    app = create_served_app()
    assert gc.get_freeze_count() == 0  # building the app freezes nothing
    async with AsyncTestClient(app=app) as client:
        assert gc.get_freeze_count() > 0
        assert app.state.services is not None  # started first, then frozen
        assert (await client.get("/health/live")).status_code == 200
