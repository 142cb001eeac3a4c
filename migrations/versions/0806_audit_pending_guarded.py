"""The pending audit events are guarded like the chain, and linked in bounded batches.

``audit_pending`` (migration 0805) took any UPDATE or DELETE from the application's role:
an event could be changed or dropped between its commit and its link into the chain.
Now an UPDATE is always refused, and a DELETE unless ``audit_chain_pending`` itself
makes it (it sets the transaction-local ``audit.chaining`` to ``on`` around its own
delete, and back to ``off``). TRUNCATE is refused too.

``audit_chain_pending`` changes with it:
- it takes the chain's advisory lock under a key of its own (``AUDIT_CHAIN_LOCK`` in
  domain/adapters/audit/log.py, 0x41554454): a caller passing a wrong key used to chain
  without the real lock;
- it refuses to run outside READ COMMITTED: its reads of the newest link and of the
  pending rows must each see what committed before the lock, which a REPEATABLE READ
  or SERIALIZABLE snapshot taken earlier would not;
- it links at most ``batch`` events (5,000 unless asked) per call, oldest first, so a
  backlog never makes one statement outlive a statement timeout; callers call again
  while a call links a full batch.

Going down restores 0805's function exactly.

Revision ID: 0806
Revises: 0705
"""

from alembic import op

revision = "0806"
down_revision = "0705"
branch_labels = None
depends_on = None

# 0805's function, restored going down (migrations/versions/0805_audit_pending.py)
_CHAIN_0805 = """
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


def upgrade() -> None:
    op.execute(
        """
        DROP FUNCTION audit_chain_pending(bigint);

        CREATE FUNCTION audit_chain_pending(batch integer DEFAULT 5000)
        RETURNS integer LANGUAGE plpgsql VOLATILE AS $$
        DECLARE
            prev bytea;
            next_seq bigint;
            pending audit_pending%ROWTYPE;
            chained bigint[] := '{}';
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
            SELECT e.hash INTO prev FROM audit_events e ORDER BY e.seq DESC LIMIT 1;
            prev := coalesce(prev, decode(repeat('00', 32), 'hex'));  -- the genesis hash
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
            -- the guard lets this delete, and only this one, through
            PERFORM set_config('audit.chaining', 'on', true);
            DELETE FROM audit_pending WHERE id = ANY (chained);
            PERFORM set_config('audit.chaining', 'off', true);
            RETURN cardinality(chained);
        END;
        $$;

        CREATE FUNCTION audit_pending_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE'
                    AND coalesce(current_setting('audit.chaining', true), '') = 'on' THEN
                RETURN OLD;  -- linked into the chain by audit_chain_pending
            END IF;
            RAISE EXCEPTION 'audit_pending is append-only: % refused', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END;
        $$;

        CREATE TRIGGER audit_pending_no_update BEFORE UPDATE ON audit_pending
            FOR EACH ROW EXECUTE FUNCTION audit_pending_guard();
        CREATE TRIGGER audit_pending_only_chained_delete BEFORE DELETE ON audit_pending
            FOR EACH ROW EXECUTE FUNCTION audit_pending_guard();
        CREATE TRIGGER audit_pending_no_truncate BEFORE TRUNCATE ON audit_pending
            FOR EACH STATEMENT EXECUTE FUNCTION audit_pending_guard();
        """
    )


def downgrade() -> None:
    op.execute(
        """
        LOCK TABLE audit_pending IN ACCESS EXCLUSIVE MODE;
        DROP TRIGGER audit_pending_no_truncate ON audit_pending;
        DROP TRIGGER audit_pending_only_chained_delete ON audit_pending;
        DROP TRIGGER audit_pending_no_update ON audit_pending;
        DROP FUNCTION audit_pending_guard();
        DROP FUNCTION audit_chain_pending(integer);
        """
        + _CHAIN_0805
    )
