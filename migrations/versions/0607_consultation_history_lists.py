"""A past list from the history's lookup alone: every column a list shows of an archived
consultation, kept in its lookup entry, and the lookup's indexes in the lists' order.

A past list (a patient's, a doctor's, an admin's) read the history with no bound on
``starts_at``, so PostgreSQL planned and scanned every monthly partition (0605) to find one
page: the cost of a page grew with the months of history kept. Bounding the read to the
page's months does not help a patient, whose few consultations a year put one row of a page
in each of many months. So the lookup (0606) now keeps what a list shows (the doctor, the
times, the status, the room, the hold and the row's dates), and a past list reads the live
table and the lookup, two indexed tables whatever the years of history
(domain/adapters/consultations/store.py, ``page``); a plain read of one archived
consultation ends there too. What only the history keeps: the notes, the request's
fingerprint and the reminders sent. An archived consultation's listed
columns never change, so its entry never goes stale.

Going up, the columns are filled from the history as it stands; going down, they and the
indexes are dropped.

Revision ID: 0607
Revises: 0606
"""

from alembic import op

revision = "0607"
down_revision = "0606"
branch_labels = None
depends_on = None

LISTED = (
    ("doctor_id", "uuid", True),
    ("ends_at", "timestamptz", True),
    ("blocked_until", "timestamptz", True),
    ("status", "text", True),
    ("room", "text", True),
    ("created_at", "timestamptz", True),
    ("updated_at", "timestamptz", True),
    ("hold_expires_at", "timestamptz", False),
)


def upgrade() -> None:
    added = ", ".join(f"ADD COLUMN {name} {kind}" for name, kind, _ in LISTED)
    filled = ", ".join(f"{name} = history.{name}" for name, _, _ in LISTED)
    required = ", ".join(
        f"ALTER COLUMN {name} SET NOT NULL" for name, _, not_null in LISTED if not_null
    )
    op.execute(
        f"""
        -- no move may run while the lookup is filled
        LOCK TABLE consultations_history IN SHARE MODE;
        ALTER TABLE consultations_history_lookup {added};
        UPDATE consultations_history_lookup lookup SET {filled}
        FROM consultations_history history
        WHERE history.id = lookup.id AND history.starts_at = lookup.starts_at;
        ALTER TABLE consultations_history_lookup {required};
        CREATE INDEX consultations_history_lookup_patient_time
            ON consultations_history_lookup (patient_id, starts_at, id);
        CREATE INDEX consultations_history_lookup_doctor_time
            ON consultations_history_lookup (doctor_id, starts_at, id);
        CREATE INDEX consultations_history_lookup_time
            ON consultations_history_lookup (starts_at, id);
        -- the lists' plans need its figures now, not when autovacuum next passes
        ANALYZE consultations_history_lookup;
        """
    )


def downgrade() -> None:
    dropped = ", ".join(f"DROP COLUMN {name}" for name, _, _ in LISTED)
    op.execute(
        f"""
        DROP INDEX consultations_history_lookup_time;
        DROP INDEX consultations_history_lookup_doctor_time;
        DROP INDEX consultations_history_lookup_patient_time;
        ALTER TABLE consultations_history_lookup {dropped};
        """
    )
