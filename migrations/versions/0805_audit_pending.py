"""Audited writes no longer hold the chain's lock: their events wait in ``audit_pending``
and ``audit_chain_pending`` links them into ``audit_events`` right after the commit.

Until now the append took the chain's advisory lock inside the audited transaction and
held it to the commit: every audited write in the platform waited for the one before it
to commit (an fsync), whatever it touched. Now the transaction inserts its events into
``audit_pending`` (no lock: they commit, or roll back, with the write they record). After
the commit, the writer calls ``audit_chain_pending``, which takes the lock, reads the
newest link and moves every committed pending event into the chain in ``id`` order:
seq, prev_hash and hash exactly as before (``domain.audit.trail.event_hash``: SHA-256 of
the previous hash, then the event's JSON array, whose part after ``[seq`` the writer
stored as ``tail``), in one short transaction of its own. One
call chains what everyone has committed meanwhile, so under load one commit chains a
batch. ``audit_events`` keeps its form and its rules (append-only, seq order is chain
order), and its readers and the verification are unchanged.

Revision ID: 0805
Revises: 0605
"""

from alembic import op

revision = "0805"
down_revision = "0605"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE audit_pending (
            id             bigserial PRIMARY KEY,
            tail           bytea NOT NULL,
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
            changed_fields text[] NOT NULL DEFAULT '{}'
        ) WITH (
            -- every row is deleted within milliseconds: the chaining reads the whole table,
            -- so its dead rows are vacuumed after thousands, not after a fifth of the table
            autovacuum_vacuum_scale_factor = 0,
            autovacuum_vacuum_threshold = 5000,
            autovacuum_vacuum_cost_delay = 0
        );

        CREATE FUNCTION audit_chain_pending(lock_key bigint)
        RETURNS integer LANGUAGE plpgsql VOLATILE AS $$
        DECLARE
            prev bytea;
            next_seq bigint;
            pending audit_pending%ROWTYPE;
            chained bigint[] := '{}';
        BEGIN
            PERFORM pg_advisory_xact_lock(lock_key);
            -- statements of their own: their snapshots see what committed before the lock
            SELECT e.hash INTO prev FROM audit_events e ORDER BY e.seq DESC LIMIT 1;
            prev := coalesce(prev, decode(repeat('00', 32), 'hex'));  -- the genesis hash
            FOR pending IN SELECT * FROM audit_pending ORDER BY id LOOP
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
            -- exactly the rows chained: one committed meanwhile waits for the next call
            DELETE FROM audit_pending WHERE id = ANY (chained);
            RETURN cardinality(chained);
        END;
        $$;
        """
    )


def downgrade() -> None:
    op.execute(
        """
        -- no writer adds a pending event between the last link and the drop; nothing
        -- pending is lost going down (the key: AUDIT_CHAIN_LOCK)
        LOCK TABLE audit_pending IN ACCESS EXCLUSIVE MODE;
        SELECT audit_chain_pending(1096107092);
        DROP FUNCTION audit_chain_pending(bigint);
        DROP TABLE audit_pending;
        """
    )
