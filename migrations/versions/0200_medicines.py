"""The medicines catalogue: entries searched by trigram similarity (``pg_trgm``), seeded from
the WHO Model List of Essential Medicines (domain/medicines/data/essential_medicines.csv);
and the interactions recorded between two entries (one row per unordered pair).

``search_text`` is the generic name, brands and ATC code in lower case, written by the
store; its GIN trigram index serves both ``LIKE '%word%'`` and the word-similarity
operator ``<%``. The seed is read from the data file when the revision runs; the
downgrade drops both tables (and keeps the extension, which holds no data and which other
features may use).

Revision ID: 0200
Revises: 0102
"""

import csv
import uuid
from pathlib import Path

from alembic import op
from sqlalchemy import text

revision = "0200"
down_revision = "0102"
branch_labels = None
depends_on = None

SEED = (
    Path(__file__).resolve().parents[2]
    / "domain"
    / "medicines"
    / "data"
    / "essential_medicines.csv"
)
# A fixed namespace, so an entry seeded on two databases has the same id on both.
SEED_NAMESPACE = uuid.UUID("6f1d1f4e-7d5b-4f3a-9c39-0a9b4c1e2d00")


def _list(value: str) -> list[str]:
    return [part.strip() for part in value.split(";") if part.strip()]


def seed_rows() -> list[dict[str, object]]:
    with SEED.open(newline="", encoding="utf-8") as data:
        rows = []
        for row in csv.DictReader(data):
            brands, atc = _list(row["brand_names"]), row["atc_code"].strip() or None
            name = row["generic_name"].strip().lower()
            rows.append(
                {
                    "id": str(uuid.uuid5(SEED_NAMESPACE, f"{name}|{row['dosage_form']}")),
                    "name": name,
                    "brands": brands,
                    "category": row["category"].strip().lower(),
                    "form": row["dosage_form"].strip(),
                    "strengths": _list(row["strengths"]),
                    "atc": atc,
                    "search": " ".join(" ".join([name, *brands, atc or ""]).lower().split()),
                }
            )
        return rows


def upgrade() -> None:
    op.execute(
        """
        CREATE EXTENSION IF NOT EXISTS pg_trgm;

        CREATE TABLE medicines (
            id            uuid PRIMARY KEY,
            generic_name  text NOT NULL,
            brand_names   text[] NOT NULL DEFAULT '{}',
            category      text NOT NULL,
            dosage_form   text NOT NULL,
            strengths     text[] NOT NULL CHECK (cardinality(strengths) > 0),
            atc_code      text,
            search_text   text NOT NULL,
            created_at    timestamptz NOT NULL DEFAULT now(),
            updated_at    timestamptz NOT NULL DEFAULT now(),
            UNIQUE (generic_name, dosage_form)
        );
        CREATE INDEX medicines_search_trgm ON medicines USING gin (search_text gin_trgm_ops);

        CREATE TABLE medicine_interactions (
            first_id    uuid NOT NULL REFERENCES medicines (id) ON DELETE CASCADE,
            second_id   uuid NOT NULL REFERENCES medicines (id) ON DELETE CASCADE,
            severity    text NOT NULL
                        CHECK (severity IN ('minor', 'moderate', 'major', 'contraindicated')),
            note        text NOT NULL,
            updated_at  timestamptz NOT NULL,
            PRIMARY KEY (first_id, second_id),
            CHECK (first_id < second_id)
        );
        CREATE INDEX medicine_interactions_second ON medicine_interactions (second_id);
        """
    )
    insert = text(
        """
        INSERT INTO medicines (id, generic_name, brand_names, category, dosage_form, strengths,
                               atc_code, search_text)
        VALUES (CAST(:id AS uuid), :name, :brands, :category, :form, :strengths, :atc, :search)
        ON CONFLICT DO NOTHING
        """
    )
    bind = op.get_bind()
    for row in seed_rows():
        bind.execute(insert, row)


def downgrade() -> None:
    op.execute("DROP TABLE medicine_interactions; DROP TABLE medicines;")
