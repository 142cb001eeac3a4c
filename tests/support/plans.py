"""PostgreSQL's plan of a statement a store sends, to check what it reads."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from psycopg import sql


async def plan_of(conn, statement, params, *, analyze: bool = False) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The top node of ``statement``'s plan (``EXPLAIN (FORMAT JSON)``); executed, with its
    actual row counts, when ``analyze``."""
    if isinstance(statement, str):
        statement = sql.SQL(statement)
    options = sql.SQL("ANALYZE, FORMAT JSON" if analyze else "FORMAT JSON")
    cursor = await conn.execute(sql.SQL("EXPLAIN ({}) {}").format(options, statement), params)
    [[plan]] = [next(iter(row.values())) for row in await cursor.fetchall()]
    return plan["Plan"]


def nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every node of ``plan``, the top one first."""
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


async def relations_read(conn, statement, params, names: re.Pattern[str]) -> set[str]:  # type: ignore[no-untyped-def]
    """The relations whose name ``names`` matches (a table's partitions, say) that
    PostgreSQL's plan of ``statement`` reads."""
    plan = await plan_of(conn, statement, params)
    read = {node.get("Relation Name", "") for node in nodes(plan)}
    return {name for name in read if names.fullmatch(name)}


class Recording:
    """A connection that keeps every statement sent through it, with its parameters."""

    def __init__(self, conn) -> None:  # type: ignore[no-untyped-def]
        self.conn = conn
        self.sent: list[tuple[Any, Any]] = []

    async def execute(self, statement, params=None):  # type: ignore[no-untyped-def]
        self.sent.append((statement, params))
        return await self.conn.execute(statement, params)
