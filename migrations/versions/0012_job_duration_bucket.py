"""The job tallies' duration bucket rule as one SQL function, for the fold and the rebuild.

Migration 0011 wrote the rule (the smallest bound at or above a job's duration, else
Infinity) inside ``job_tallies_rebuild``, and the scrape's fold in
domain/adapters/jobs/metrics.py wrote it again. ``job_duration_le(seconds, bounds)`` is
now the one place, and ``job_tallies_rebuild`` calls it; what either counts is unchanged.

``job_tallies_rebuild`` holds the tallies locked while it counts, so jobs that finish
meanwhile wait for it: about 3 s a million finished jobs on 2 cores.

A database that ran 0011 as main held it for a while (with this function in it) already has
the function: ``CREATE OR REPLACE`` makes this revision right for both.

Going down restores 0011's ``job_tallies_rebuild`` exactly and drops the function.

Revision ID: 0012
Revises: 0011
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# job_tallies_rebuild as 0011 and this revision write it: they differ only in how the
# duration histogram's rows are counted (its last statement).
_REBUILD = """
CREATE OR REPLACE FUNCTION job_tallies_rebuild(bounds double precision[])
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
    %s
$$;
"""
_TIMED = """FROM (SELECT kind, status,
                 extract(epoch FROM finished_at - started_at)::float8 AS seconds
          FROM jobs
          WHERE status IN ('succeeded', 'failed')
            AND started_at IS NOT NULL AND finished_at IS NOT NULL) AS timed"""

# 0011's, restored going down (migrations/versions/0011_job_tallies.py)
_REBUILD_0011 = (
    _REBUILD
    % f"""SELECT kind, status, bucket.le, count(*), sum(timed.seconds)
    {_TIMED},
         LATERAL (SELECT coalesce(min(b), 'Infinity') AS le
                  FROM unnest(bounds) AS b WHERE b >= timed.seconds) AS bucket
    GROUP BY kind, status, bucket.le;"""
)

_REBUILD_0012 = (
    _REBUILD
    % f"""SELECT kind, status, job_duration_le(seconds, bounds), count(*), sum(seconds)
    {_TIMED}
    GROUP BY 1, 2, 3;"""
)


def upgrade() -> None:
    op.execute(
        """
        -- The bucket a duration counts in: the smallest bound at or above it, else Infinity.
        CREATE OR REPLACE FUNCTION job_duration_le(
            seconds double precision, bounds double precision[]
        )
        RETURNS double precision LANGUAGE sql IMMUTABLE AS $$
            SELECT coalesce(min(b), 'Infinity') FROM unnest(bounds) AS b WHERE b >= seconds
        $$;
        """
    )
    op.execute(_REBUILD_0012)


def downgrade() -> None:
    op.execute(_REBUILD_0011)
    op.execute("DROP FUNCTION job_duration_le(double precision, double precision[])")
