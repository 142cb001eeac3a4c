"""Payments through Bakong and the price list they charge from.

What a payment says about money (its amount, the KHQR code that carries it, what
was paid and refunded) is sealed as one JSON value (``details``); its MD5 (how
Bakong names it) and the transaction hash that completed it are unique, so a
transaction completes one payment, once. The price list starts with two plans.

Revision ID: 0101
Revises: 0100
"""

from alembic import op

revision = "0101"
down_revision = "0100"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE prices (
            code          text NOT NULL,
            currency      text NOT NULL CHECK (currency IN ('USD', 'KHR')),
            amount_minor  bigint NOT NULL CHECK (amount_minor > 0),
            label         text NOT NULL,
            PRIMARY KEY (code, currency)
        );
        INSERT INTO prices (code, currency, amount_minor, label) VALUES
            ('basic-monthly', 'USD', 500, 'Basic plan, one month'),
            ('basic-monthly', 'KHR', 20000, 'Basic plan, one month'),
            ('premium-monthly', 'USD', 1500, 'Premium plan, one month'),
            ('premium-monthly', 'KHR', 60000, 'Premium plan, one month');

        CREATE TABLE payments (
            id                uuid PRIMARY KEY,
            user_id           uuid NOT NULL REFERENCES users (id),
            purpose           text NOT NULL,
            reference         text NOT NULL,
            currency          text NOT NULL CHECK (currency IN ('USD', 'KHR')),
            status            text NOT NULL CHECK (status IN ('pending', 'completed', 'failed',
                                  'expired', 'refund_pending', 'refunded')),
            md5               text NOT NULL UNIQUE,
            details_sealed    bytea NOT NULL,
            details_key_id    text NOT NULL,
            expires_at        timestamptz NOT NULL,
            created_at        timestamptz NOT NULL,
            updated_at        timestamptz NOT NULL,
            completed_at      timestamptz,
            transaction_hash  text UNIQUE,
            paid_currency     text,
            review            text,
            checks            integer NOT NULL DEFAULT 0,
            next_check_at     timestamptz
        );
        CREATE INDEX payments_newest ON payments (created_at DESC, id DESC);
        CREATE INDEX payments_by_user ON payments (user_id, created_at DESC);
        CREATE INDEX payments_to_check ON payments (next_check_at) WHERE status = 'pending';
        CREATE INDEX payments_completed ON payments (completed_at) WHERE completed_at IS NOT NULL;
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE payments; DROP TABLE prices;")
