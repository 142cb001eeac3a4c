"""The doctor's notes of a consultation, sealed at rest (``notes_sealed`` under
``notes_key_id``, listed in domain/phi/columns.py so key rotation re-seals them).

Revision ID: 0603
Revises: 0602
"""

from alembic import op

revision = "0603"
down_revision = "0602"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE consultations
            ADD COLUMN notes_sealed bytea,
            ADD COLUMN notes_key_id text,
            ADD CONSTRAINT consultations_notes_sealed_whole
                CHECK ((notes_sealed IS NULL) = (notes_key_id IS NULL));
        """
    )


def downgrade() -> None:
    op.execute(
        """
        ALTER TABLE consultations DROP CONSTRAINT consultations_notes_sealed_whole,
            DROP COLUMN notes_key_id, DROP COLUMN notes_sealed;
        """
    )
