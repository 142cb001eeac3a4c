"""Each month of the audit trail keeps the range of chain positions (``seq``) it holds, so a
page of ``GET /api/v1/audit`` opens only the months its events can be in.

The trail is partitioned by month of ``at`` (0004), and a page is read in ``seq`` order
(chain order), which is not the partition key: every page opened every month's partition,
so its cost grew by 12 partitions each year of trail (bench.audit_pages), however few
events it showed.

``audit_months`` holds, for each month (of ``at``, in UTC) that has events, the lowest and
the highest ``seq`` among them. The newest month is open: its range reaches to the chain's
head (``audit_chain_head``, which the chaining moves in the transaction that links), and its
``last_seq`` is not written as it grows, so linking an event into the current month writes
nothing here. A statement trigger on ``audit_events`` looks at the rows each INSERT adds (the
chaining's, one event a statement; the partition upkeep's re-insert of early arrivals; a
bench's bulk load): an event of the open month costs one check (about 9 us of PostgreSQL
time an event, against 32 us for an upsert of the range each time, measured with 2,000
single-row inserts); the first event of a later month closes the open one past every event
it holds and opens its own; an event of an older month widens that month's range.

Months' ranges overlap a little: an event is stamped ``at`` when it is recorded and given
its ``seq`` when it is chained, so one recorded just before midnight on the last day of a
month may be chained after one recorded just after (and an event whose writer died is
chained at the next chaining, however late). A reader therefore treats a month's range as
where its events may be, not as a slice of the chain (domain/adapters/audit/store.py). A
clock that ran ahead opens a month early (its event waits in the DEFAULT partition); until
that month comes, the real month's events widen its range, one update each.

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
        DECLARE
            open_month date;
            open_reach bigint;  -- the open month's events lie at or under it
            added_month record;
        BEGIN
            -- the open month's range reaches to the chain's head: its events write nothing
            IF NOT EXISTS (
                SELECT FROM added
                WHERE {_MONTH_OF_AT} IS DISTINCT FROM (SELECT max(month) FROM audit_months)
            ) THEN
                RETURN NULL;
            END IF;
            SELECT max(month) INTO open_month FROM audit_months;
            -- rows are added in chain order: the open month's earlier events lie under these
            SELECT min(seq) - 1 INTO open_reach FROM added;
            FOR added_month IN
                SELECT {_MONTH_OF_AT} AS month, min(seq) AS first_seq, max(seq) AS last_seq
                FROM added GROUP BY 1 ORDER BY 1
            LOOP
                IF added_month.month = open_month THEN
                    open_reach := greatest(open_reach, added_month.last_seq);
                    CONTINUE;
                END IF;
                IF open_month IS NULL OR added_month.month > open_month THEN
                    -- a later month opens, and the open one closes past every event it holds
                    UPDATE audit_months SET last_seq = greatest(last_seq, open_reach)
                    WHERE month = open_month;
                    open_month := added_month.month;
                    open_reach := added_month.last_seq;
                END IF;
                INSERT INTO audit_months AS m (month, first_seq, last_seq)
                VALUES (added_month.month, added_month.first_seq, added_month.last_seq)
                ON CONFLICT (month) DO UPDATE
                    SET first_seq = least(m.first_seq, excluded.first_seq),
                        last_seq = greatest(m.last_seq, excluded.last_seq)
                    WHERE excluded.first_seq < m.first_seq OR excluded.last_seq > m.last_seq;
            END LOOP;
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
