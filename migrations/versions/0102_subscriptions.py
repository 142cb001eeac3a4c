"""Subscription plans (their prices are the price list's, under the same code) and each user's
subscriptions: at most one live (active or in grace) per user.

Revision ID: 0102
Revises: 0101
"""

from alembic import op

revision = "0102"
down_revision = "0101"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE plans (
            code          text PRIMARY KEY,
            name          text NOT NULL,
            period_days   integer NOT NULL CHECK (period_days > 0),
            entitlements  jsonb NOT NULL
        );
        INSERT INTO plans (code, name, period_days, entitlements) VALUES
            ('basic-monthly', 'Basic', 30,
             '{"consultationsPerMonth": 2, "ocrScansPerMonth": 10, "connectedDoctors": 1}'),
            ('premium-monthly', 'Premium', 30,
             '{"consultationsPerMonth": 8, "ocrScansPerMonth": 100, "connectedDoctors": 5}');

        CREATE TABLE subscriptions (
            id                    uuid PRIMARY KEY,
            user_id               uuid NOT NULL REFERENCES users (id),
            plan_code             text NOT NULL REFERENCES plans (code),
            status                text NOT NULL
                                  CHECK (status IN ('active', 'grace', 'expired', 'cancelled')),
            period_start          timestamptz NOT NULL,
            period_end            timestamptz NOT NULL,
            cancel_at_period_end  boolean NOT NULL DEFAULT false,
            next_plan_code        text REFERENCES plans (code),
            reminded_for          timestamptz,
            created_at            timestamptz NOT NULL,
            updated_at            timestamptz NOT NULL
        );
        CREATE UNIQUE INDEX subscriptions_one_live ON subscriptions (user_id)
            WHERE status IN ('active', 'grace');
        CREATE INDEX subscriptions_by_end ON subscriptions (period_end)
            WHERE status IN ('active', 'grace');
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE subscriptions; DROP TABLE plans;")
