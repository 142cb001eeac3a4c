"""What every pooled connection is set up with (domain/adapters/postgres.py)."""

from __future__ import annotations

import msgspec

from tests.support.platform import running_services

DOCUMENT = '{"big": 123456789012345678901234567890, "text": "\u00e9", "list": [1.5, null, true]}'


async def test_json_columns_are_decoded_by_msgspec_to_the_values_json_loads_gives(settings):
    async with running_services(settings) as services, services.pool.connection() as conn:
        row = await (
            await conn.execute("SELECT %s::jsonb AS b, %s::json AS j", (DOCUMENT, DOCUMENT))
        ).fetchone()
        jsonb_loader = conn.adapters.get_loader(conn.adapters.types["jsonb"].oid, 0)
    expected = {"big": 123456789012345678901234567890, "text": "é", "list": [1.5, None, True]}
    assert row == {"b": expected, "j": expected}
    assert jsonb_loader is not None and jsonb_loader._loads is msgspec.json.decode
