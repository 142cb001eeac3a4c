"""In-app notifications: each user's notices (sealed: they may name medicines, readings,
people), read or not, and which kinds a user also wants by e-mail.

``seq`` orders a user's notices and is the event id a live client resumes from
(``lastEventId``); ``id`` is what the API names and what the sealed data is bound to.

Revision ID: 0010
Revises: 0009
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE notices (
            id           uuid PRIMARY KEY,
            seq          bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
            user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            kind         text NOT NULL,
            data_sealed  bytea NOT NULL,
            data_key_id  text NOT NULL,
            created_at   timestamptz NOT NULL,
            read_at      timestamptz
        );
        CREATE INDEX notices_by_user ON notices (user_id, seq DESC);
        CREATE INDEX notices_unread ON notices (user_id) WHERE read_at IS NULL;

        CREATE TABLE notice_preferences (
            user_id  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            kind     text NOT NULL,
            email    boolean NOT NULL,
            PRIMARY KEY (user_id, kind)
        );
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE notice_preferences; DROP TABLE notices;")
