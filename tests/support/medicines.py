"""Catalogue entries for tests that prescribe: the seeded ones, found by generic name."""

from __future__ import annotations

from domain.adapters.bootstrap import Services


async def seeded_medicine(services: Services, generic_name: str, form: str = "tablet") -> str:
    """The id of a seeded entry (migration 0200) of ``generic_name`` in ``form``."""
    async with services.pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT id FROM medicines WHERE generic_name = %s AND dosage_form = %s",
            (generic_name, form),
        )
        row = await cursor.fetchone()
    assert row is not None, f"no seeded {generic_name} {form}"
    return str(row["id"])
