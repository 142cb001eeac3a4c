"""Prescriptions written from a consultation: which (by the consultation's doctor, for its
patient) were written in which consultation.

Revision ID: 0604
Revises: 0603
"""

from alembic import op

revision = "0604"
down_revision = "0603"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE consultation_prescriptions (
            consultation_id  uuid NOT NULL REFERENCES consultations (id) ON DELETE CASCADE,
            prescription_id  uuid NOT NULL UNIQUE REFERENCES prescriptions (id) ON DELETE CASCADE,
            linked_at        timestamptz NOT NULL,
            PRIMARY KEY (consultation_id, prescription_id)
        );
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE consultation_prescriptions;")
