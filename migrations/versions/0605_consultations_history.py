"""Finished consultations move to a history table partitioned by month of their start.

PostgreSQL cannot enforce an exclusion constraint across partitions, so the live table
(upcoming and recent consultations, with ``consultations_no_double_booking``) stays whole;
the ``consultation.archive`` job moves consultations that finished (completed, cancelled,
no-show, released) more than CONSULTATION_HISTORY_AFTER_DAYS ago into
``consultations_history``, one batch per transaction. Its months are created as the job
needs them (``consultations_history_YYYY_MM``, UTC bounds); there is no default partition,
so a row can only land in its own month.

The history has the live table's columns (the notes stay sealed as they were: their
ciphertext is bound to ``consultations.notes`` and moves unchanged) and the reads' indexes:
doctor by time, patient by time, payment, idempotency key. Its key is ``(id, starts_at)``
(a partitioned table's unique keys include the partition key); an id is in one table or the
other, never both, since the move deletes and inserts in one statement.

``consultation_prescriptions`` kept a foreign key to the live table with ON DELETE
CASCADE: the move would have deleted the links. A key cannot point at two tables, nor at
the history by id alone, so it goes; the links stay in one table whichever table holds
their consultation (a consultation is never deleted otherwise, and a link is only written
after its consultation was found and locked).

Revision ID: 0605
Revises: 0701
"""

from alembic import op

revision = "0605"
down_revision = "0701"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE consultations_history (
            id                   uuid NOT NULL,
            patient_id           uuid NOT NULL REFERENCES users (id),
            doctor_id            uuid NOT NULL REFERENCES users (id),
            starts_at            timestamptz NOT NULL,
            ends_at              timestamptz NOT NULL CHECK (ends_at > starts_at),
            blocked_until        timestamptz NOT NULL,
            status               text NOT NULL CHECK (status IN ('completed', 'cancelled',
                                     'no_show', 'released')),
            hold_expires_at      timestamptz,
            payment_id           uuid REFERENCES payments (id),
            room                 text NOT NULL,
            created_at           timestamptz NOT NULL,
            updated_at           timestamptz NOT NULL,
            idempotency_key      text,
            request_fingerprint  bytea NOT NULL,
            reminders_sent       smallint NOT NULL,
            notes_sealed         bytea,
            notes_key_id         text,
            archived_at          timestamptz NOT NULL,
            CHECK (blocked_until >= ends_at),
            CHECK ((notes_sealed IS NULL) = (notes_key_id IS NULL)),
            PRIMARY KEY (id, starts_at)
        ) PARTITION BY RANGE (starts_at);
        CREATE INDEX consultations_history_doctor_time
            ON consultations_history (doctor_id, starts_at);
        CREATE INDEX consultations_history_patient_time
            ON consultations_history (patient_id, starts_at);
        CREATE INDEX consultations_history_payment ON consultations_history (payment_id)
            WHERE payment_id IS NOT NULL;
        CREATE INDEX consultations_history_idempotency
            ON consultations_history (patient_id, idempotency_key)
            WHERE idempotency_key IS NOT NULL;

        -- what the archive job looks for: finished consultations by their end
        CREATE INDEX consultations_finished ON consultations (ends_at)
            WHERE status IN ('completed', 'cancelled', 'no_show', 'released');

        ALTER TABLE consultation_prescriptions
            DROP CONSTRAINT consultation_prescriptions_consultation_id_fkey;
        """
    )


def downgrade() -> None:
    op.execute(
        """
        INSERT INTO consultations (id, patient_id, doctor_id, starts_at, ends_at, blocked_until,
            status, hold_expires_at, payment_id, room, created_at, updated_at, idempotency_key,
            request_fingerprint, reminders_sent, notes_sealed, notes_key_id)
        SELECT id, patient_id, doctor_id, starts_at, ends_at, blocked_until, status,
            hold_expires_at, payment_id, room, created_at, updated_at, idempotency_key,
            request_fingerprint, reminders_sent, notes_sealed, notes_key_id
        FROM consultations_history;
        DROP TABLE consultations_history;
        DROP INDEX consultations_finished;
        ALTER TABLE consultation_prescriptions
            ADD CONSTRAINT consultation_prescriptions_consultation_id_fkey
            FOREIGN KEY (consultation_id) REFERENCES consultations (id) ON DELETE CASCADE;
        """
    )
