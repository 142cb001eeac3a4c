"""Durable jobs and their append-only history.

Revision ID: 0001
Revises:
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE jobs (
            id              uuid PRIMARY KEY,
            kind            text NOT NULL,
            queue           text NOT NULL,
            status          text NOT NULL CHECK (status IN
                                ('queued','running','retrying','succeeded','failed','cancelled')),
            payload         jsonb NOT NULL,
            result          jsonb,
            error           jsonb,
            attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
            max_attempts    integer NOT NULL CHECK (max_attempts >= 1),
            owner_id        text NOT NULL,
            idempotency_key text,
            request_hash    text,
            run_after       timestamptz NOT NULL,
            heartbeat_at    timestamptz,
            last_sent_at    timestamptz,
            created_at      timestamptz NOT NULL,
            updated_at      timestamptz NOT NULL,
            started_at      timestamptz,
            finished_at     timestamptz,
            CHECK (idempotency_key IS NULL OR request_hash IS NOT NULL)
        );
        CREATE UNIQUE INDEX jobs_idempotency_key
            ON jobs (owner_id, kind, idempotency_key) WHERE idempotency_key IS NOT NULL;
        CREATE INDEX jobs_owner_page ON jobs (owner_id, created_at DESC, id DESC);
        CREATE INDEX jobs_page ON jobs (created_at DESC, id DESC);
        CREATE INDEX jobs_due ON jobs (run_after) WHERE status IN ('queued', 'retrying');
        CREATE INDEX jobs_heartbeat ON jobs (heartbeat_at) WHERE status = 'running';
        CREATE INDEX jobs_kind_status ON jobs (kind, status);

        CREATE TABLE job_events (
            id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            job_id      uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
            from_status text,
            to_status   text NOT NULL,
            attempt     integer NOT NULL,
            error       jsonb,
            at          timestamptz NOT NULL
        );
        CREATE INDEX job_events_job ON job_events (job_id, id);

        -- The history is written by the database itself, so no code path can
        -- change a status without leaving its trace.
        CREATE FUNCTION jobs_record_event() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' OR NEW.status IS DISTINCT FROM OLD.status THEN
                INSERT INTO job_events (job_id, from_status, to_status, attempt, error, at)
                VALUES (
                    NEW.id,
                    CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE OLD.status END,
                    NEW.status,
                    NEW.attempts,
                    CASE WHEN NEW.status IN ('retrying', 'failed') THEN NEW.error END,
                    NEW.updated_at
                );
            END IF;
            RETURN NULL;
        END;
        $$;
        CREATE TRIGGER jobs_record_event AFTER INSERT OR UPDATE OF status ON jobs
            FOR EACH ROW EXECUTE FUNCTION jobs_record_event();

        CREATE FUNCTION job_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'job_events is append-only';
        END;
        $$;
        CREATE TRIGGER job_events_append_only BEFORE UPDATE ON job_events
            FOR EACH ROW EXECUTE FUNCTION job_events_append_only();
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP TABLE job_events;
        DROP TABLE jobs;
        DROP FUNCTION job_events_append_only();
        DROP FUNCTION jobs_record_event();
        """
    )
