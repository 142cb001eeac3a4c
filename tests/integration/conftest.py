"""Fixtures of the records and documents tests: each module says its settings
(``platform_settings``); these give it services, an API client and the cast on them."""

from __future__ import annotations

import pytest

from tests.support.api import api_client
from tests.support.platform import running_services
from tests.support.users import add_cast, connect


@pytest.fixture
async def platform(platform_settings):
    async with running_services(platform_settings) as built:
        yield built


@pytest.fixture
async def api(platform_settings):
    async with api_client(platform_settings) as client:
        yield client


@pytest.fixture
async def cast(platform):
    """Alice is Chantha's patient; Borey and Dararith are strangers to both."""
    everyone = await add_cast(platform)
    await connect(platform, everyone.alice.id, everyone.chantha.id)
    return everyone
