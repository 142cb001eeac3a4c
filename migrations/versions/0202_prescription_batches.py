"""Batch prescribing: one doctor's command to prescribe the same items to many patients.

The items are sealed (they name the treatment); the job's payload holds only the batch's
id. Each patient's outcome is written in the same transaction as their prescription, so a
retried job carries on where the last attempt stopped and never prescribes twice.

Revision ID: 0202
Revises: 0500
"""

from alembic import op

revision = "0202"
down_revision = "0500"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE prescription_batches (
            id             uuid PRIMARY KEY,
            doctor_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            activate       boolean NOT NULL,
            items_sealed   bytea NOT NULL,
            items_key_id   text NOT NULL,
            created_at     timestamptz NOT NULL
        );

        CREATE TABLE prescription_batch_patients (
            batch_id         uuid NOT NULL REFERENCES prescription_batches (id)
                             ON DELETE CASCADE,
            position         int NOT NULL,
            patient_id       uuid NOT NULL,
            outcome          text CHECK (outcome IN ('created', 'refused')),
            prescription_id  uuid,
            reason           text,
            PRIMARY KEY (batch_id, position),
            UNIQUE (batch_id, patient_id)
        );
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE prescription_batch_patients; DROP TABLE prescription_batches;")
