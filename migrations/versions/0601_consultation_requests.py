"""Consultations remember the Idempotency-Key that held them, and a fingerprint of the request,
so a repeated hold returns the first answer and a different one under the same key is a 409.

Revision ID: 0601
Revises: 0600
"""

from alembic import op

revision = "0601"
down_revision = "0600"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE consultations
            ADD COLUMN idempotency_key text,
            ADD COLUMN request_fingerprint bytea NOT NULL DEFAULT ''::bytea;
        CREATE UNIQUE INDEX consultations_idempotency ON consultations (patient_id, idempotency_key)
            WHERE idempotency_key IS NOT NULL;
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP INDEX consultations_idempotency;
        ALTER TABLE consultations DROP COLUMN request_fingerprint, DROP COLUMN idempotency_key;
        """
    )
