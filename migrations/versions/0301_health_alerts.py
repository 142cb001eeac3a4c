"""Health alerts: one open alert per patient and rule (a partial unique index, the target of the
raising upsert), who read which, and per-patient overrides of the rules' bands.

Alerts hold codes, never values (the readings stay sealed in their own table), so no column
here is sealed.

Revision ID: 0301
Revises: 0300
"""

from alembic import op

revision = "0301"
down_revision = "0300"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE health_alerts (
            id               uuid PRIMARY KEY,
            patient_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            rule             text NOT NULL,
            severity         text NOT NULL
                                 CHECK (severity IN ('LOW', 'MEDIUM', 'HIGH', 'CRITICAL')),
            severity_rank    smallint NOT NULL CHECK (severity_rank BETWEEN 1 AND 4),
            summary_code     text NOT NULL,
            status           text NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved')),
            occurrences      integer NOT NULL CHECK (occurrences > 0),
            first_at         timestamptz NOT NULL,
            last_at          timestamptz NOT NULL,
            escalated_from   text,
            acknowledged_by  uuid REFERENCES users (id) ON DELETE SET NULL,
            acknowledged_at  timestamptz,
            resolved_by      uuid REFERENCES users (id) ON DELETE SET NULL,
            resolved_at      timestamptz,
            created_at       timestamptz NOT NULL,
            updated_at       timestamptz NOT NULL
        );
        CREATE UNIQUE INDEX health_alerts_one_open
            ON health_alerts (patient_id, rule) WHERE status <> 'resolved';
        CREATE INDEX health_alerts_by_patient
            ON health_alerts (patient_id, created_at DESC, id DESC);

        CREATE TABLE health_alert_reads (
            alert_id  uuid NOT NULL REFERENCES health_alerts (id) ON DELETE CASCADE,
            user_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            read_at   timestamptz NOT NULL,
            PRIMARY KEY (alert_id, user_id)
        );

        CREATE TABLE alert_rule_overrides (
            patient_id  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            rule        text NOT NULL,
            bands       jsonb NOT NULL,
            set_by      uuid REFERENCES users (id) ON DELETE SET NULL,
            updated_at  timestamptz NOT NULL,
            PRIMARY KEY (patient_id, rule)
        );
        """
    )


def downgrade() -> None:
    op.execute(
        "DROP TABLE alert_rule_overrides; DROP TABLE health_alert_reads; DROP TABLE health_alerts;"
    )
