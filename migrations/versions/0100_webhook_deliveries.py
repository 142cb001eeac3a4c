"""Inbound webhook deliveries, one mechanism for every provider: the raw body sealed (a payment
callback names amounts), one row per provider and webhook id (a replayed id stores nothing).

Revision ID: 0100
Revises: 0010
"""

from alembic import op

revision = "0100"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE webhook_deliveries (
            id            uuid PRIMARY KEY,
            provider      text NOT NULL,
            webhook_id    text NOT NULL,
            event_type    text,
            status        text NOT NULL
                          CHECK (status IN ('received', 'processed', 'unhandled', 'failed')),
            outcome       text,
            body_sealed   bytea NOT NULL,
            body_key_id   text NOT NULL,
            received_at   timestamptz NOT NULL,
            processed_at  timestamptz,
            replays       integer NOT NULL DEFAULT 0,
            UNIQUE (provider, webhook_id)
        );
        CREATE INDEX webhook_deliveries_newest ON webhook_deliveries (received_at DESC, id DESC);
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE webhook_deliveries;")
