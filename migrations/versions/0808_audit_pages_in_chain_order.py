"""The audit trail's filtered pages read in chain order from their index, whatever an actor's
or a resource's history holds.

``GET /api/v1/audit`` pages are keyset pages in ``seq`` order (chain order), filtered by
actor or by resource (domain/adapters/audit/store.py). The indexes made for those filters
(0004) were ordered by ``at``, so PostgreSQL read every event of the actor or resource in
each month's partition and sorted them all to return one page (or walked the trail in
``seq`` order for the few that matched): the cost of a page grew with every event the actor
added. On 25 months of 1.2 million events, a page of a doctor with 2,400 events took 8.0 ms
of execution; ordered by ``seq``, each partition's index gives its events in chain order, a
page reads about as many entries as it shows, and it took 0.8 ms. What still grows with the
years is the number of months a page opens (bench.audit_pages). A ``since`` or ``until``
bound still prunes the months by ``at``, the partition key.

``audit_events_seq_desc`` is dropped: it served the chaining's read of the newest link,
which 0807 replaced with ``audit_chain_head``; nothing reads it since, and every chained
event paid for an entry in it. So an event now costs three index entries, as before four.

Building the indexes locks the trail's partitions against inserts while it runs: the
chaining waits (audited writes do not, they commit to ``audit_pending``; their events are
linked once the build ends).

Going down restores 0004's indexes.

Revision ID: 0808
Revises: 0607
"""

from alembic import op

revision = "0808"
down_revision = "0607"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE INDEX audit_events_actor_seq ON audit_events (actor_id, seq);
        CREATE INDEX audit_events_resource_seq ON audit_events (resource_type, resource_id, seq);
        DROP INDEX audit_events_actor;
        DROP INDEX audit_events_resource;
        DROP INDEX audit_events_seq_desc;
        """
    )


def downgrade() -> None:
    op.execute(
        """
        CREATE INDEX audit_events_seq_desc ON audit_events (seq DESC);
        CREATE INDEX audit_events_actor ON audit_events (actor_id, at);
        CREATE INDEX audit_events_resource ON audit_events (resource_type, resource_id, at);
        DROP INDEX audit_events_actor_seq;
        DROP INDEX audit_events_resource_seq;
        """
    )
