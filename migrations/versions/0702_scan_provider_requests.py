"""Scans sent to the outside OCR provider (OCR_ENGINE=provider), awaiting its signed callback:
one row per scan, named to the provider by a reference (the reading job's id, never PHI);
how it ended (answered, timed out, failed) and why, in the clear (codes only).

Revision ID: 0702
Revises: 0805
"""

from alembic import op

revision = "0702"
down_revision = "0805"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE scan_provider_requests (
            scan_id       uuid PRIMARY KEY REFERENCES scans (id),
            reference     uuid NOT NULL UNIQUE,
            status        text NOT NULL
                          CHECK (status IN ('awaiting', 'answered', 'timed_out', 'failed')),
            reason        text,
            requested_at  timestamptz NOT NULL,
            finished_at   timestamptz,
            CHECK ((status = 'awaiting') = (finished_at IS NULL))
        );
        -- the timeout sweep: scans still awaiting, oldest first
        CREATE INDEX scan_provider_requests_awaiting
            ON scan_provider_requests (requested_at) WHERE status = 'awaiting';
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE scan_provider_requests;")
