"""The catalogue in PostgreSQL, inside the caller's transaction.

Search runs on ``medicines.search_text`` (generic name, brands, ATC code, lower case)
through its GIN trigram index (``pg_trgm``): every word of the query must be in the
text as written (``LIKE '%word%'``) or close to one of its words (``<%``, word
similarity above ``pg_trgm.word_similarity_threshold``, 0.6 by default), so
"amox", "clav amox" and "amoxicilin" all find amoxicillin. Entries whose generic name
starts with the first word come first, then the closest.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Collection
from typing import Any

from psycopg import AsyncConnection, errors, sql

from domain.errors import Conflict
from domain.medicines.model import DosageForm, Interaction, Medicine, Severity, search_text


def medicine_from_row(row: dict[str, Any]) -> Medicine:
    return Medicine(
        id=row["id"],
        generic_name=row["generic_name"],
        brand_names=tuple(row["brand_names"]),
        category=row["category"],
        dosage_form=DosageForm(row["dosage_form"]),
        strengths=tuple(row["strengths"]),
        atc_code=row["atc_code"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _interaction(row: dict[str, Any]) -> Interaction:
    return Interaction(
        first_id=row["first_id"],
        second_id=row["second_id"],
        severity=Severity(row["severity"]),
        note=row["note"],
        updated_at=row["updated_at"],
    )


def _duplicate() -> Conflict:
    return Conflict(
        "the catalogue already has this generic in this dosage form", code="medicine_exists"
    )


def _like(word: str) -> str:
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@functools.cache
def _search_statement(word_count: int) -> sql.Composed:
    """The search for ``word_count`` words, built once: the same text every time, so the
    driver prepares it on each connection after a few runs and PostgreSQL keeps its plan."""
    matches = [
        sql.SQL("(search_text LIKE {like} OR {word} <%% search_text)").format(
            like=sql.Placeholder(f"l{index}"), word=sql.Placeholder(f"w{index}")
        )
        for index in range(word_count)
    ]
    scores = [
        sql.SQL("word_similarity({word}, search_text)").format(word=sql.Placeholder(f"w{index}"))
        for index in range(word_count)
    ]
    return sql.SQL(
        """
        SELECT * FROM medicines
        WHERE {matches}
        ORDER BY generic_name LIKE %(first)s DESC, {score} DESC, generic_name, dosage_form
        LIMIT %(limit)s
        """
    ).format(matches=sql.SQL(" AND ").join(matches), score=sql.SQL(" + ").join(scores))


class PgMedicineRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    def _params(self, medicine: Medicine) -> dict[str, Any]:
        return {
            "id": medicine.id,
            "name": medicine.generic_name,
            "brands": list(medicine.brand_names),
            "category": medicine.category,
            "form": medicine.dosage_form.value,
            "strengths": list(medicine.strengths),
            "atc": medicine.atc_code,
            "search": search_text(medicine),
            "created": medicine.created_at,
            "updated": medicine.updated_at,
        }

    async def add(self, medicine: Medicine) -> None:
        try:
            await self._conn.execute(
                """
                INSERT INTO medicines (id, generic_name, brand_names, category, dosage_form,
                                       strengths, atc_code, search_text, created_at, updated_at)
                VALUES (%(id)s, %(name)s, %(brands)s, %(category)s, %(form)s, %(strengths)s,
                        %(atc)s, %(search)s, %(created)s, %(updated)s)
                """,
                self._params(medicine),
            )
        except errors.UniqueViolation:
            raise _duplicate() from None

    async def get(self, medicine_id: uuid.UUID, *, lock: bool = False) -> Medicine | None:
        query = "SELECT * FROM medicines WHERE id = %s" + (" FOR UPDATE" if lock else "")
        cursor = await self._conn.execute(query, (medicine_id,))
        row = await cursor.fetchone()
        return medicine_from_row(row) if row else None

    async def many(self, medicine_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, Medicine]:
        cursor = await self._conn.execute(
            "SELECT * FROM medicines WHERE id = ANY(%s)", (list(medicine_ids),)
        )
        return {row["id"]: medicine_from_row(row) for row in await cursor.fetchall()}

    async def update(self, medicine: Medicine) -> None:
        try:
            await self._conn.execute(
                """
                UPDATE medicines
                SET generic_name = %(name)s, brand_names = %(brands)s, category = %(category)s,
                    dosage_form = %(form)s, strengths = %(strengths)s, atc_code = %(atc)s,
                    search_text = %(search)s, updated_at = %(updated)s
                WHERE id = %(id)s
                """,
                self._params(medicine),
            )
        except errors.UniqueViolation:
            raise _duplicate() from None

    async def listing(self, limit: int, offset: int) -> list[Medicine]:
        cursor = await self._conn.execute(
            "SELECT * FROM medicines ORDER BY generic_name, dosage_form LIMIT %s OFFSET %s",
            (limit, offset),
        )
        return [medicine_from_row(row) for row in await cursor.fetchall()]

    async def search(self, words: tuple[str, ...], limit: int) -> list[Medicine]:
        params: dict[str, Any] = {"limit": limit, "first": words[0] + "%"}
        for index, word in enumerate(words):
            params[f"w{index}"] = word
            params[f"l{index}"] = _like(word)
        cursor = await self._conn.execute(_search_statement(len(words)), params)
        return [medicine_from_row(row) for row in await cursor.fetchall()]

    async def record_interaction(self, interaction: Interaction) -> None:
        await self._conn.execute(
            """
            INSERT INTO medicine_interactions (first_id, second_id, severity, note, updated_at)
            VALUES (%(first)s, %(second)s, %(severity)s, %(note)s, %(updated)s)
            ON CONFLICT (first_id, second_id) DO UPDATE
            SET severity = excluded.severity, note = excluded.note,
                updated_at = excluded.updated_at
            """,
            {
                "first": interaction.first_id,
                "second": interaction.second_id,
                "severity": interaction.severity.value,
                "note": interaction.note,
                "updated": interaction.updated_at,
            },
        )

    async def remove_interaction(self, first_id: uuid.UUID, second_id: uuid.UUID) -> bool:
        cursor = await self._conn.execute(
            "DELETE FROM medicine_interactions WHERE first_id = %s AND second_id = %s "
            "RETURNING first_id",
            (first_id, second_id),
        )
        return await cursor.fetchone() is not None

    async def interactions_of(self, medicine_id: uuid.UUID) -> list[Interaction]:
        cursor = await self._conn.execute(
            """
            SELECT * FROM medicine_interactions WHERE first_id = %(id)s OR second_id = %(id)s
            ORDER BY first_id, second_id
            """,
            {"id": medicine_id},
        )
        return [_interaction(row) for row in await cursor.fetchall()]

    async def interactions_between(
        self, these: Collection[uuid.UUID], those: Collection[uuid.UUID]
    ) -> list[Interaction]:
        if not these or not those:
            return []
        cursor = await self._conn.execute(
            """
            SELECT * FROM medicine_interactions
            WHERE (first_id = ANY(%(these)s) AND second_id = ANY(%(those)s))
               OR (second_id = ANY(%(these)s) AND first_id = ANY(%(those)s))
            ORDER BY first_id, second_id
            """,
            {"these": list(these), "those": list(those)},
        )
        return [_interaction(row) for row in await cursor.fetchall()]
