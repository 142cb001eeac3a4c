"""Appending to the audit chain in one statement: ``audit_append``.

The append used to be four round trips under the chain's advisory lock (take the
lock, read the newest hash, draw the next seq, insert), and the lock is held until
the caller commits: every audited write waited for all of them. The function does
the same steps in one call, each statement of it with its own snapshot (a volatile
PL/pgSQL function under READ COMMITTED), so the newest hash is read *after* the
lock is granted, as before. The hash is the same one ``domain.audit.trail.event_hash``
computes: SHA-256 of the previous hash, then the event's JSON array; the caller sends
that array without its leading ``[seq`` (``tail``), which only the function knows.

Revision ID: 0805
Revises: 0701
"""

from alembic import op

revision = "0805"
down_revision = "0701"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION audit_append(
            lock_key bigint, tail bytea, at timestamptz, actor_id text, actor_role text,
            action text, resource_type text, resource_id text, outcome text,
            status_code integer, ip text, user_agent text, request_id text,
            changed_fields text[]
        ) RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
        DECLARE
            prev bytea;
            next_seq bigint;
        BEGIN
            PERFORM pg_advisory_xact_lock(lock_key);
            -- a statement of its own: its snapshot sees the previous holder's commit
            SELECT e.hash INTO prev FROM audit_events e ORDER BY e.seq DESC LIMIT 1;
            prev := coalesce(prev, decode(repeat('00', 32), 'hex'));  -- the genesis hash
            next_seq := nextval('audit_events_seq');
            INSERT INTO audit_events (seq, at, actor_id, actor_role, action, resource_type,
                resource_id, outcome, status_code, ip, user_agent, request_id, changed_fields,
                prev_hash, hash)
            VALUES (next_seq, at, actor_id, actor_role, action, resource_type, resource_id,
                outcome, status_code, ip, user_agent, request_id, changed_fields, prev,
                sha256(prev || convert_to('[' || next_seq::text, 'UTF8') || tail));
            RETURN next_seq;
        END;
        $$;
        """
    )


def downgrade() -> None:
    op.execute(
        "DROP FUNCTION audit_append(bigint, bytea, timestamptz, text, text, text, text, text, "
        "text, integer, text, text, text, text[])"
    )
