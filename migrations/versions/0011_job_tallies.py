"""Job figures kept as tallies, so a metrics scrape costs the same whatever the history.

``/metrics`` counted the jobs by kind and status and built the duration histogram
from every finished job on each scrape: 3.7 s with 3 million finished jobs (past the
scrape's 3 s budget, so the job figures vanished), and growing with the history.

Now the table keeps its own tallies. A row of ``jobs`` that enters a final status
(succeeded, failed, cancelled), leaves one (an operator's retry) or is deleted in one
(retention) leaves a change in ``job_tally_changes``: +1 or -1, its kind, status and
duration (first start to outcome), written by triggers, so no code path can miss one.
A scrape moves the changes committed so far into ``job_tallies`` (jobs by kind and
final status) and ``job_duration_tallies`` (the same by duration bucket: ``le`` the
bucket's upper bound) and deletes them in the same transaction: each is counted once,
whatever order the transactions that wrote them commit in. Jobs not finished (queued,
running, retrying) are few and counted from the rows through their partial indexes.

``job_tallies_rebuild(bounds)`` recounts everything from the rows (this migration
runs it for the jobs already there; a bulk load with triggers off needs it too). It
holds the tallies locked while it counts, so jobs that finish meanwhile wait for it:
about 3 s a million finished jobs on 2 cores (during this migration every write to
``jobs`` waits that long: creating the triggers locks the table until the commit).

Revision ID: 0011
Revises: 0706
"""

from alembic import op

revision = "0011"
down_revision = "0706"
branch_labels = None
depends_on = None

# domain/adapters/jobs/metrics.py DURATION_BOUNDS, as this migration counts the jobs there
BOUNDS = "{0.1,0.5,1,2.5,5,10,30,60,300,900,1800,3600,7200}"


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE job_tally_changes (
            id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            kind    text NOT NULL,
            status  text NOT NULL,
            seconds double precision,  -- first start to outcome; NULL if it never started
            change  smallint NOT NULL CHECK (change IN (-1, 1))
        );
        CREATE TABLE job_tallies (
            kind   text NOT NULL,
            status text NOT NULL,
            jobs   bigint NOT NULL,
            PRIMARY KEY (kind, status)
        );
        CREATE TABLE job_duration_tallies (
            kind    text NOT NULL,
            status  text NOT NULL,
            le      double precision NOT NULL,  -- the bucket's upper bound, or 'Infinity'
            jobs    bigint NOT NULL,
            seconds double precision NOT NULL,
            PRIMARY KEY (kind, status, le)
        );

        CREATE FUNCTION jobs_tally_final() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP <> 'INSERT' AND OLD.status IN ('succeeded', 'failed', 'cancelled') THEN
                INSERT INTO job_tally_changes (kind, status, seconds, change)
                VALUES (OLD.kind, OLD.status,
                        extract(epoch FROM OLD.finished_at - OLD.started_at)::float8, -1);
            END IF;
            IF TG_OP <> 'DELETE' AND NEW.status IN ('succeeded', 'failed', 'cancelled') THEN
                INSERT INTO job_tally_changes (kind, status, seconds, change)
                VALUES (NEW.kind, NEW.status,
                        extract(epoch FROM NEW.finished_at - NEW.started_at)::float8, 1);
            END IF;
            RETURN NULL;
        END;
        $$;
        -- WHEN clauses: the hot path's other transitions (queued -> running ...) call nothing
        CREATE TRIGGER jobs_tally_final_insert AFTER INSERT ON jobs FOR EACH ROW
            WHEN (NEW.status IN ('succeeded', 'failed', 'cancelled'))
            EXECUTE FUNCTION jobs_tally_final();
        CREATE TRIGGER jobs_tally_final_update AFTER UPDATE OF status ON jobs FOR EACH ROW
            WHEN (OLD.status IS DISTINCT FROM NEW.status
                  AND (OLD.status IN ('succeeded', 'failed', 'cancelled')
                       OR NEW.status IN ('succeeded', 'failed', 'cancelled')))
            EXECUTE FUNCTION jobs_tally_final();
        CREATE TRIGGER jobs_tally_final_delete AFTER DELETE ON jobs FOR EACH ROW
            WHEN (OLD.status IN ('succeeded', 'failed', 'cancelled'))
            EXECUTE FUNCTION jobs_tally_final();

        CREATE FUNCTION job_tallies_rebuild(bounds double precision[])
        RETURNS void LANGUAGE sql VOLATILE AS $$
            LOCK TABLE job_tally_changes, job_tallies, job_duration_tallies IN EXCLUSIVE MODE;
            DELETE FROM job_tally_changes;
            DELETE FROM job_tallies;
            DELETE FROM job_duration_tallies;
            INSERT INTO job_tallies (kind, status, jobs)
            SELECT kind, status, count(*) FROM jobs
            WHERE status IN ('succeeded', 'failed', 'cancelled')
            GROUP BY kind, status;
            INSERT INTO job_duration_tallies (kind, status, le, jobs, seconds)
            SELECT kind, status, bucket.le, count(*), sum(timed.seconds)
            FROM (SELECT kind, status,
                         extract(epoch FROM finished_at - started_at)::float8 AS seconds
                  FROM jobs
                  WHERE status IN ('succeeded', 'failed')
                    AND started_at IS NOT NULL AND finished_at IS NOT NULL) AS timed,
                 LATERAL (SELECT coalesce(min(b), 'Infinity') AS le
                          FROM unnest(bounds) AS b WHERE b >= timed.seconds) AS bucket
            GROUP BY kind, status, bucket.le;
        $$;
        """
    )
    op.execute(f"SELECT job_tallies_rebuild('{BOUNDS}')")


def downgrade() -> None:
    op.execute(
        """
        DROP TRIGGER jobs_tally_final_insert ON jobs;
        DROP TRIGGER jobs_tally_final_update ON jobs;
        DROP TRIGGER jobs_tally_final_delete ON jobs;
        DROP FUNCTION jobs_tally_final();
        DROP FUNCTION job_tallies_rebuild(double precision[]);
        DROP TABLE job_tally_changes, job_tallies, job_duration_tallies;
        """
    )
