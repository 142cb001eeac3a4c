"""Users' names and e-mail addresses sealed at rest, the address found by a keyed lookup.

``users.name`` and ``users.email`` gain ``name_sealed``/``name_key_id`` and
``email_sealed``/``email_key_id`` (the house rule, as in 0005 and 0006), and
``email_lookup``: HMAC-SHA256 of the address under a lookup key, unique, which
sign-in and sign-up use instead of ``lower(email)``. The lookup keys live in
``lookup_keys``, sealed under the PHI keyring (domain/adapters/accounts/lookup_keys.py).

A migration holds no keys (it may import nothing but ``domain.settings``), so it
cannot seal the accounts already stored, and it must not lose them. It only
makes room: the plaintext columns become nullable and stay; each value is held
exactly once, in the clear (a row from before this revision) or sealed, never
both (the CHECKs below). The sealing step, run with the app's keys, then seals
every row still in the clear and clears its plaintext, in batches: ``healthplat``
runs it right after the migrations, ``healthplat-admin seal-accounts`` runs it
for deployments that migrate separately (domain/accounts/sealing.py). Until it
has, those accounts still sign in (by their plaintext address). A later revision
drops ``name``, ``email`` and the ``users_email`` index once no row holds them.

Code from before this revision runs against the migrated schema (it writes rows
in the clear, which the next sealing run seals) but cannot read a sealed row:
stop it before the first sealing run, as ``healthplat`` does by running
migrations, sealing step and then the new processes in that order.

The downgrade cannot unseal either: it refuses while any row is sealed (restore
the backup taken before the upgrade instead), and otherwise drops the new
columns and the lookup keys.

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE users
            ALTER COLUMN name DROP NOT NULL,
            ALTER COLUMN email DROP NOT NULL,
            ADD COLUMN name_sealed  bytea,
            ADD COLUMN name_key_id  text,
            ADD COLUMN email_sealed bytea,
            ADD COLUMN email_key_id text,
            ADD COLUMN email_lookup bytea,
            ADD CONSTRAINT users_name_sealed_key
                CHECK ((name_sealed IS NULL) = (name_key_id IS NULL)),
            ADD CONSTRAINT users_email_sealed_key
                CHECK ((email_sealed IS NULL) = (email_key_id IS NULL)),
            ADD CONSTRAINT users_email_lookup_sealed
                CHECK ((email_lookup IS NULL) = (email_sealed IS NULL)),
            -- each value once: in the clear until the sealing step reaches the row, then sealed
            ADD CONSTRAINT users_name_once CHECK ((name IS NULL) <> (name_sealed IS NULL)),
            ADD CONSTRAINT users_email_once CHECK ((email IS NULL) <> (email_sealed IS NULL));
        CREATE UNIQUE INDEX users_email_lookup ON users (email_lookup);

        -- Keys of keyed lookups, one per purpose ('users.email'), each sealed like PHI.
        CREATE TABLE lookup_keys (
            id          uuid PRIMARY KEY,
            purpose     text NOT NULL UNIQUE,
            key_sealed  bytea NOT NULL,
            key_key_id  text NOT NULL,
            created_at  timestamptz NOT NULL DEFAULT now()
        );
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DO $$
        BEGIN
            IF EXISTS (SELECT 1 FROM users WHERE name IS NULL OR email IS NULL) THEN
                RAISE EXCEPTION 'users hold sealed names or e-mail addresses, which a '
                    'migration cannot unseal: restore the backup taken before revision 0008';
            END IF;
        END
        $$;
        DROP TABLE lookup_keys;
        DROP INDEX users_email_lookup;
        ALTER TABLE users
            DROP COLUMN name_sealed,
            DROP COLUMN name_key_id,
            DROP COLUMN email_sealed,
            DROP COLUMN email_key_id,
            DROP COLUMN email_lookup,
            ALTER COLUMN name SET NOT NULL,
            ALTER COLUMN email SET NOT NULL;
        """
    )
