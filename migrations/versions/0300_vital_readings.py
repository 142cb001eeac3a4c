"""Vital-sign readings: the type and time in the clear (lists filter and sort on them), the
values sealed (``measurement_sealed``, JSON, bound to the row).

Revision ID: 0300
Revises: 0201
"""

from alembic import op

revision = "0300"
down_revision = "0201"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE vital_readings (
            id                  uuid PRIMARY KEY,
            patient_id          uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            type                text NOT NULL CHECK (type IN ('blood_pressure', 'heart_rate',
                                    'temperature', 'blood_sugar', 'spo2', 'weight', 'height')),
            measured_at         timestamptz NOT NULL,
            recorded_by         uuid REFERENCES users (id) ON DELETE SET NULL,
            recorder            text NOT NULL CHECK (recorder IN ('patient', 'doctor')),
            measurement_sealed  bytea NOT NULL,
            measurement_key_id  text NOT NULL,
            created_at          timestamptz NOT NULL
        );
        CREATE INDEX vital_readings_by_time
            ON vital_readings (patient_id, measured_at DESC, id DESC);
        CREATE INDEX vital_readings_by_type
            ON vital_readings (patient_id, type, measured_at DESC, id DESC);
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE vital_readings;")
