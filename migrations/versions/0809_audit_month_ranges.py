"""Each month of the audit trail keeps the range of chain positions (``seq``) it holds, so a
page of ``GET /api/v1/audit`` opens only the months its events can be in.

The trail is partitioned by month of ``at`` (0004), and a page is read in ``seq`` order
(chain order), which is not the partition key: every page opened every month's partition,
about 0.07-0.1 ms each, so a page cost 5-8 ms after six years of trail and 12 partitions
more each year (bench.audit_pages), however few events it showed.

``audit_months`` holds, for each month (of ``at``, in UTC) that has events, the lowest and
the highest ``seq`` among them. A statement trigger on ``audit_events`` widens the ranges
from the rows each INSERT adds (the chaining's, the partition upkeep's re-insert of early
arrivals, a bench's bulk load): one upsert per month the statement touched. Months' ranges
overlap a little: an event is stamped ``at`` when it is recorded and given its ``seq`` when
it is chained, so one recorded just before midnight on the last day of a month may be
chained after one recorded just after (and an event whose writer died is chained at the next
chaining, however late). A reader therefore treats a month's range as where its events may
be, not as a slice of the chain (domain/adapters/audit/store.py).

A range only ever widens: the guard refuses an UPDATE that narrows one, and any DELETE or
TRUNCATE, so the table can make a page read more months, never fewer than hold its events.
``/audit/verify`` does not use it: it walks every month.

The table is filled from the trail under the chain's lock, so no event is chained between
the fill and the trigger.

Going down drops the table, the trigger and their functions.

Revision ID: 0809
Revises: 0808
"""

from alembic import op

revision = "0809"
down_revision = "0808"
branch_labels = None
depends_on = None

# The month an event is filed under, as the trigger and the fill both compute it.
_MONTH_OF_AT = "(date_trunc('month', at AT TIME ZONE 'UTC'))::date"


def upgrade() -> None:
    op.execute(
        f"""
        -- no chaining may link between the fill and the trigger
        SELECT pg_advisory_xact_lock(1096107092);  -- AUDIT_CHAIN_LOCK, "AUDT"

        CREATE TABLE audit_months (
            month date PRIMARY KEY CHECK (month = date_trunc('month', month)::date),
            first_seq bigint NOT NULL,
            last_seq bigint NOT NULL,
            CHECK (first_seq <= last_seq)
        );
        INSERT INTO audit_months (month, first_seq, last_seq)
        SELECT {_MONTH_OF_AT}, min(seq), max(seq) FROM audit_events GROUP BY 1;

        CREATE FUNCTION audit_months_widen() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO audit_months AS m (month, first_seq, last_seq)
            SELECT {_MONTH_OF_AT}, min(seq), max(seq) FROM added GROUP BY 1
            ON CONFLICT (month) DO UPDATE
                SET first_seq = least(m.first_seq, excluded.first_seq),
                    last_seq = greatest(m.last_seq, excluded.last_seq)
                WHERE excluded.first_seq < m.first_seq OR excluded.last_seq > m.last_seq;
            RETURN NULL;
        END;
        $$;
        CREATE TRIGGER audit_events_months AFTER INSERT ON audit_events
            REFERENCING NEW TABLE AS added
            FOR EACH STATEMENT EXECUTE FUNCTION audit_months_widen();

        CREATE FUNCTION audit_months_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'UPDATE' AND NEW.month = OLD.month
                    AND NEW.first_seq <= OLD.first_seq AND NEW.last_seq >= OLD.last_seq THEN
                RETURN NEW;  -- widened
            END IF;
            RAISE EXCEPTION 'audit_months ranges only widen: % refused', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END;
        $$;
        CREATE TRIGGER audit_months_only_widen BEFORE UPDATE OR DELETE ON audit_months
            FOR EACH ROW EXECUTE FUNCTION audit_months_guard();
        CREATE TRIGGER audit_months_no_truncate BEFORE TRUNCATE ON audit_months
            FOR EACH STATEMENT EXECUTE FUNCTION audit_months_guard();
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP TRIGGER audit_events_months ON audit_events;
        DROP FUNCTION audit_months_widen();
        DROP TABLE audit_months;
        DROP FUNCTION audit_months_guard();
        """
    )
