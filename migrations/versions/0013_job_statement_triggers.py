"""Job history and tallies written once a statement, not once a row.

``job_events`` (0001) and ``job_tally_changes`` (0011) were written by row triggers:
a PL/pgSQL call and an INSERT of its own for every job a statement moved. The hot path
moves jobs in batches (one statement claims or finishes every attempt of a group
commit, domain/adapters/jobs/store.py), and the row trigger took 38% of such a
statement's execution (EXPLAIN ANALYZE, 16 claims). Now statement triggers with
transition tables write each statement's events, and its tally changes, in one INSERT
... SELECT each: what they write is unchanged, row for row.

- Events: a job inserted, or one whose status an UPDATE changed, gets one event (from
  and to status, attempt, the error of a retry or failure, ``updated_at`` as its time).
- Tallies: +1 for a job inserted in a final status or moved into one, -1 for one moved
  out of one or deleted in one (0011).

A transition table cannot go with a column list (``UPDATE OF status``) or a ``WHEN``
clause, so the update triggers fire for every UPDATE of ``jobs`` and pick the rows whose
status changed by joining the old rows to the new on ``id`` (which no UPDATE changes).
A statement with several data-modifying CTEs on ``jobs`` fires each trigger once, with
the rows of all of them.

0001's and 0011's functions stay (unused) so that going down only puts their row
triggers back.

Revision ID: 0013
Revises: 0012
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

FINAL = "('succeeded', 'failed', 'cancelled')"


def upgrade() -> None:
    op.execute(
        f"""
        DROP TRIGGER jobs_record_event ON jobs;
        DROP TRIGGER jobs_tally_final_insert ON jobs;
        DROP TRIGGER jobs_tally_final_update ON jobs;
        DROP TRIGGER jobs_tally_final_delete ON jobs;

        CREATE FUNCTION jobs_record_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO job_events (job_id, from_status, to_status, attempt, error, at)
            SELECT id, NULL, status, attempts,
                   CASE WHEN status IN ('retrying', 'failed') THEN error END, updated_at
            FROM inserted_jobs;
            INSERT INTO job_tally_changes (kind, status, seconds, change)
            SELECT kind, status, extract(epoch FROM finished_at - started_at)::float8, 1
            FROM inserted_jobs WHERE status IN {FINAL};
            RETURN NULL;
        END;
        $$;

        CREATE FUNCTION jobs_record_moved() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            WITH moved AS (  -- prior, latest: a job's row before and after (OLD and NEW
                             -- name PL/pgSQL's row variables, empty in a statement trigger)
                SELECT latest.id, latest.kind, prior.status AS from_status,
                       latest.status AS to_status, latest.attempts, latest.error,
                       latest.updated_at,
                       extract(epoch FROM prior.finished_at - prior.started_at)::float8
                           AS prior_seconds,
                       extract(epoch FROM latest.finished_at - latest.started_at)::float8
                           AS latest_seconds
                FROM updated_jobs AS latest JOIN jobs_before AS prior ON prior.id = latest.id
                WHERE latest.status IS DISTINCT FROM prior.status
            ), events AS (
                INSERT INTO job_events (job_id, from_status, to_status, attempt, error, at)
                SELECT id, from_status, to_status, attempts,
                       CASE WHEN to_status IN ('retrying', 'failed') THEN error END,
                       updated_at
                FROM moved
            )
            INSERT INTO job_tally_changes (kind, status, seconds, change)
            SELECT kind, from_status, prior_seconds, -1 FROM moved
            WHERE from_status IN {FINAL}
            UNION ALL
            SELECT kind, to_status, latest_seconds, 1 FROM moved
            WHERE to_status IN {FINAL};
            RETURN NULL;
        END;
        $$;

        CREATE FUNCTION jobs_tally_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO job_tally_changes (kind, status, seconds, change)
            SELECT kind, status, extract(epoch FROM finished_at - started_at)::float8, -1
            FROM deleted_jobs WHERE status IN {FINAL};
            RETURN NULL;
        END;
        $$;

        CREATE TRIGGER jobs_record_inserted AFTER INSERT ON jobs
            REFERENCING NEW TABLE AS inserted_jobs
            FOR EACH STATEMENT EXECUTE FUNCTION jobs_record_inserted();
        CREATE TRIGGER jobs_record_moved AFTER UPDATE ON jobs
            REFERENCING OLD TABLE AS jobs_before NEW TABLE AS updated_jobs
            FOR EACH STATEMENT EXECUTE FUNCTION jobs_record_moved();
        CREATE TRIGGER jobs_tally_deleted AFTER DELETE ON jobs
            REFERENCING OLD TABLE AS deleted_jobs
            FOR EACH STATEMENT EXECUTE FUNCTION jobs_tally_deleted();
        """
    )


def downgrade() -> None:
    op.execute(
        f"""
        DROP TRIGGER jobs_record_inserted ON jobs;
        DROP TRIGGER jobs_record_moved ON jobs;
        DROP TRIGGER jobs_tally_deleted ON jobs;
        DROP FUNCTION jobs_record_inserted();
        DROP FUNCTION jobs_record_moved();
        DROP FUNCTION jobs_tally_deleted();

        CREATE TRIGGER jobs_record_event AFTER INSERT OR UPDATE OF status ON jobs
            FOR EACH ROW EXECUTE FUNCTION jobs_record_event();
        CREATE TRIGGER jobs_tally_final_insert AFTER INSERT ON jobs FOR EACH ROW
            WHEN (NEW.status IN {FINAL})
            EXECUTE FUNCTION jobs_tally_final();
        CREATE TRIGGER jobs_tally_final_update AFTER UPDATE OF status ON jobs FOR EACH ROW
            WHEN (OLD.status IS DISTINCT FROM NEW.status
                  AND (OLD.status IN {FINAL} OR NEW.status IN {FINAL}))
            EXECUTE FUNCTION jobs_tally_final();
        CREATE TRIGGER jobs_tally_final_delete AFTER DELETE ON jobs FOR EACH ROW
            WHEN (OLD.status IN {FINAL})
            EXECUTE FUNCTION jobs_tally_final();
        """
    )
