"""Which of a consultation's reminders went out (0: none, 1: the 24-hour one, 2: the 1-hour
one); a reschedule sets it back to 0, so the reminders move with the consultation.

Revision ID: 0602
Revises: 0601
"""

from alembic import op

revision = "0602"
down_revision = "0601"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE consultations
            ADD COLUMN reminders_sent smallint NOT NULL DEFAULT 0
                CHECK (reminders_sent BETWEEN 0 AND 2);
        CREATE INDEX consultations_reminders_due ON consultations (starts_at)
            WHERE status = 'confirmed' AND reminders_sent < 2;
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP INDEX consultations_reminders_due;
        ALTER TABLE consultations DROP COLUMN reminders_sent;
        """
    )
