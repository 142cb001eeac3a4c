"""Outgoing e-mails: the job payload carries only this row's id, never the address or data.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE email_messages (
            id          uuid PRIMARY KEY,
            job_id      uuid NOT NULL UNIQUE REFERENCES jobs (id) ON DELETE CASCADE,
            to_address  text NOT NULL,
            template    text NOT NULL,
            data        jsonb NOT NULL,
            message_id  text NOT NULL UNIQUE,
            created_at  timestamptz NOT NULL
        );
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE email_messages;")
