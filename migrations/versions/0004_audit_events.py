"""The audit trail: append-only, hash-chained, partitioned by month.

Each event carries the hash of the one before it (``prev_hash``) and its own
(``hash``, over its fields and ``prev_hash``), so altering or deleting a row
breaks the chain at that point. Events are appended under a transaction-level
advisory lock, so ``seq`` order is chain order.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE SEQUENCE audit_events_seq;
        CREATE TABLE audit_events (
            seq            bigint NOT NULL,
            at             timestamptz NOT NULL,
            actor_id       text,
            actor_role     text,
            action         text NOT NULL,
            resource_type  text NOT NULL,
            resource_id    text,
            outcome        text NOT NULL CHECK (outcome IN ('success', 'denied', 'failed')),
            status_code    integer,
            ip             text,
            user_agent     text,
            request_id     text,
            changed_fields text[] NOT NULL DEFAULT '{}',
            prev_hash      bytea NOT NULL,
            hash           bytea NOT NULL,
            PRIMARY KEY (seq, at)
        ) PARTITION BY RANGE (at);
        CREATE INDEX audit_events_seq_desc ON audit_events (seq DESC);
        CREATE INDEX audit_events_actor ON audit_events (actor_id, at);
        CREATE INDEX audit_events_resource ON audit_events (resource_type, resource_id, at);

        -- Catches rows for a month nobody created a partition for; the monthly
        -- job keeps it empty by creating partitions ahead of time.
        CREATE TABLE audit_events_default PARTITION OF audit_events DEFAULT;

        CREATE FUNCTION audit_ensure_partitions(first_month date, months integer)
        RETURNS integer LANGUAGE plpgsql AS $$
        DECLARE
            month_start date;
            name text;
            created integer := 0;
        BEGIN
            FOR i IN 0 .. months - 1 LOOP
                month_start := (date_trunc('month', first_month)
                                + make_interval(months => i))::date;
                name := format('audit_events_%s', to_char(month_start, 'YYYY_MM'));
                IF to_regclass(name) IS NULL THEN
                    EXECUTE format(
                        'CREATE TABLE %I PARTITION OF audit_events FOR VALUES FROM (%L) TO (%L)',
                        name, month_start, (month_start + interval '1 month')::date
                    );
                    created := created + 1;
                END IF;
            END LOOP;
            RETURN created;
        END;
        $$;
        SELECT audit_ensure_partitions(current_date, 3);

        CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit_events is append-only';
        END;
        $$;
        CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
            FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP TABLE audit_events;
        DROP FUNCTION audit_events_append_only();
        DROP FUNCTION audit_ensure_partitions(date, integer);
        DROP SEQUENCE audit_events_seq;
        """
    )
