"""What the OCR engine read on each scan and the draft prescription made of it, sealed (OCR
text names the patient and their medicines); the counts a list shows in the clear.

Revision ID: 0701
Revises: 0700
"""

from alembic import op

revision = "0701"
down_revision = "0700"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE scan_readings (
            scan_id          uuid PRIMARY KEY REFERENCES scans (id),
            patient_id       uuid NOT NULL REFERENCES users (id),
            engine           text NOT NULL,
            found_nothing    boolean NOT NULL,
            items            integer NOT NULL,
            reading_sealed   bytea NOT NULL,
            reading_key_id   text NOT NULL,
            created_at       timestamptz NOT NULL,
            -- the prescription its draft became, once confirmed (at most once)
            prescription_id  uuid UNIQUE REFERENCES prescriptions (id),
            confirmed_at     timestamptz,
            CHECK ((prescription_id IS NULL) = (confirmed_at IS NULL))
        );
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE scan_readings;")
