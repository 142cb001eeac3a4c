"""E-mails remember when they were handed to the mail server (or written to the outbox).

A worker records ``handed_over_at`` right after the SMTP server accepted the
message; an attempt that finds it set (a re-run after a lost outcome) completes
the job without sending again. Nullable, no default: instant on a large table.

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE email_messages
            ADD COLUMN handed_over_at timestamptz,
            ADD COLUMN transport text;
        """
    )


def downgrade() -> None:
    op.execute("ALTER TABLE email_messages DROP COLUMN handed_over_at, DROP COLUMN transport;")
