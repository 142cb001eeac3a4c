"""The free plan: what a user without a live subscription may do (three OCR scans a month).

Revision ID: 0706
Revises: 0806
"""

from alembic import op

revision = "0706"
down_revision = "0806"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        INSERT INTO plans (code, name, period_days, entitlements) VALUES
            ('free', 'Free', 30,
             '{"consultationsPerMonth": 0, "ocrScansPerMonth": 3, "connectedDoctors": 1}');
        """
    )


def downgrade() -> None:
    op.execute("DELETE FROM plans WHERE code = 'free'")
