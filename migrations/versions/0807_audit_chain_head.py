"""The audit chain's newest link kept in a row of its own, so linking costs the same
however many months the trail holds.

``audit_chain_pending`` (0806) began each call by finding the newest link with
``SELECT hash FROM audit_events ORDER BY seq DESC LIMIT 1``. The trail is partitioned by
month (0004 and domain/adapters/audit/partitions.py) and ``seq`` is not the partition key,
so that read merges one index scan from every partition: with 76 partitions (six years of
history, which medical audit trails keep) it took 0.57 ms of execution against 0.03 ms with
4, and an audited write cost PostgreSQL 0.89-1.42 ms of CPU instead of 0.57-0.59 (the
README's performance section).

``audit_chain_head`` holds that newest link (its ``seq``, null while the trail is empty,
and its ``hash``, the genesis hash then). The chaining reads it under the chain's lock
and moves it in the transaction that links, so it is always the newest link committed.
It is guarded as the trail is: only the chaining may update it (the transaction-local
``audit.chaining`` set to ``on``, as for its delete from ``audit_pending``); any other
INSERT, UPDATE, DELETE or TRUNCATE is refused.

The head also makes a cut-off tail visible: events deleted from the end of the trail
(by someone with the owner's rights) used to leave a shorter chain that verified; now
the head still names the newest link, and the next event chains onto it.

Going down restores 0806's function and drops the table.

Revision ID: 0807
Revises: 0013
"""

from alembic import op

revision = "0807"
down_revision = "0013"
branch_labels = None
depends_on = None

GENESIS = "decode(repeat('00', 32), 'hex')"

# How each version of the function finds the newest link, and keeps it once it has linked.
_NEWEST_FROM_THE_TRAIL = f"""
            SELECT e.hash INTO prev FROM audit_events e ORDER BY e.seq DESC LIMIT 1;
            prev := coalesce(prev, {GENESIS});  -- the genesis hash"""
_NEWEST_FROM_THE_HEAD = """
            SELECT h.hash INTO prev FROM audit_chain_head h;"""
_HEAD_MOVED = """
            IF cardinality(chained) > 0 THEN
                UPDATE audit_chain_head SET seq = next_seq, hash = prev;
            END IF;"""


def _chain_function(newest: str, keep_newest: str) -> str:
    """``audit_chain_pending`` as 0806 wrote it, with how it reads the newest link, and
    keeps the one it made, given."""
    return f"""
        CREATE OR REPLACE FUNCTION audit_chain_pending(batch integer DEFAULT 5000)
        RETURNS integer LANGUAGE plpgsql VOLATILE AS $$
        DECLARE
            prev bytea;
            next_seq bigint;
            pending audit_pending%ROWTYPE;
            chained bigint[] := '{{}}';
        BEGIN
            IF current_setting('transaction_isolation') <> 'read committed' THEN
                RAISE EXCEPTION 'audit_chain_pending runs in READ COMMITTED only, not %',
                    current_setting('transaction_isolation')
                    USING ERRCODE = 'object_not_in_prerequisite_state';
            END IF;
            IF batch IS NULL OR batch < 1 THEN
                RAISE EXCEPTION 'audit_chain_pending: batch must be positive'
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            PERFORM pg_advisory_xact_lock(1096107092);  -- AUDIT_CHAIN_LOCK, "AUDT"
            -- statements of their own: their snapshots see what committed before the lock
            {newest}
            FOR pending IN SELECT * FROM audit_pending ORDER BY id LIMIT batch LOOP
                next_seq := nextval('audit_events_seq');
                INSERT INTO audit_events (seq, at, actor_id, actor_role, action, resource_type,
                    resource_id, outcome, status_code, ip, user_agent, request_id,
                    changed_fields, prev_hash, hash)
                VALUES (next_seq, pending.at, pending.actor_id, pending.actor_role,
                    pending.action, pending.resource_type, pending.resource_id,
                    pending.outcome, pending.status_code, pending.ip, pending.user_agent,
                    pending.request_id, pending.changed_fields, prev,
                    sha256(prev || convert_to('[' || next_seq::text, 'UTF8') || pending.tail))
                RETURNING hash INTO prev;
                chained := chained || pending.id;
            END LOOP;
            -- exactly the rows chained: one committed meanwhile waits for the next call;
            -- the guards let this delete (and the head's move), and only these, through
            PERFORM set_config('audit.chaining', 'on', true);
            DELETE FROM audit_pending WHERE id = ANY (chained);{keep_newest}
            PERFORM set_config('audit.chaining', 'off', true);
            RETURN cardinality(chained);
        END;
        $$;
    """


def upgrade() -> None:
    op.execute(
        f"""
        -- no chaining may link between the head's seeding and the new function
        SELECT pg_advisory_xact_lock(1096107092);

        CREATE TABLE audit_chain_head (
            only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
            seq bigint,  -- null while the trail is empty
            hash bytea NOT NULL
        );
        INSERT INTO audit_chain_head (seq, hash)
        SELECT newest.seq, coalesce(newest.hash, {GENESIS})
        FROM (SELECT NULL::bigint AS seq, NULL::bytea AS hash) AS none
        LEFT JOIN LATERAL (
            SELECT e.seq, e.hash FROM audit_events e ORDER BY e.seq DESC LIMIT 1
        ) AS newest ON true;

        CREATE FUNCTION audit_chain_head_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'UPDATE'
                    AND coalesce(current_setting('audit.chaining', true), '') = 'on' THEN
                RETURN NEW;  -- moved by audit_chain_pending
            END IF;
            RAISE EXCEPTION 'audit_chain_head is kept by audit_chain_pending: % refused', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END;
        $$;
        CREATE TRIGGER audit_chain_head_guarded BEFORE INSERT OR UPDATE OR DELETE
            ON audit_chain_head FOR EACH ROW EXECUTE FUNCTION audit_chain_head_guard();
        CREATE TRIGGER audit_chain_head_no_truncate BEFORE TRUNCATE ON audit_chain_head
            FOR EACH STATEMENT EXECUTE FUNCTION audit_chain_head_guard();
        """
        + _chain_function(_NEWEST_FROM_THE_HEAD, _HEAD_MOVED)
    )


def downgrade() -> None:
    op.execute(
        "SELECT pg_advisory_xact_lock(1096107092);"
        + _chain_function(_NEWEST_FROM_THE_TRAIL, "")
        + """
        DROP TABLE audit_chain_head;
        DROP FUNCTION audit_chain_head_guard();
        """
    )
