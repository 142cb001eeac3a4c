"""Where each archived consultation is: a lookup from its id, payment and idempotency key to
its start, so a read of the history scans one monthly partition instead of every one.

``consultations_history`` (0605) is partitioned by month of ``starts_at``. A read by id, by
payment or by a patient's idempotency key named none of that, so it probed an index of
every month: the cost of reading one old consultation, and of the replay check every hold
with an Idempotency-Key makes (the live table, then the history), grew with the years of
history kept.

``consultations_history_lookup`` holds, for every archived consultation, its id (the key),
its ``starts_at``, and the patient, idempotency key and payment that reads look it up by.
The archive writes it in the statement that moves the consultation (domain/adapters/
consultations/store.py); a read finds the start there first, in the same statement
(a scalar subquery), and PostgreSQL prunes the history to that month when it runs.
Going up, it is filled from the history as it stands; going down, it is dropped.

Revision ID: 0606
Revises: 0807
"""

from alembic import op

revision = "0606"
down_revision = "0807"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE consultations_history_lookup (
            id               uuid PRIMARY KEY,
            starts_at        timestamptz NOT NULL,
            patient_id       uuid NOT NULL,
            idempotency_key  text,
            payment_id       uuid
        );
        -- no move may run while the history is copied
        LOCK TABLE consultations_history IN SHARE MODE;
        INSERT INTO consultations_history_lookup
            (id, starts_at, patient_id, idempotency_key, payment_id)
        SELECT id, starts_at, patient_id, idempotency_key, payment_id
        FROM consultations_history;
        CREATE INDEX consultations_history_lookup_key
            ON consultations_history_lookup (patient_id, idempotency_key)
            WHERE idempotency_key IS NOT NULL;
        CREATE INDEX consultations_history_lookup_payment
            ON consultations_history_lookup (payment_id) WHERE payment_id IS NOT NULL;
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE consultations_history_lookup;")
