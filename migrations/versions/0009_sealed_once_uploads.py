"""Staged uploads hold their details sealed once, for the file they will become.

Before this revision an upload's details (a record's type and description; a
document's file name, data key, size and page count) were sealed together as one
JSON value in ``uploads.details_sealed``, and the storing job opened them and
sealed each PHI part again for the record's or document's own column. Now the
API seals each PHI part once, under the context of the column it will end in
(``records.description:<id>``: an upload's id is its file's id), and keeps it in
that column's twin here (``records_description_sealed`` ...); the job copies the
ciphertext over without opening it. What is not PHI (the record type, a PDF's
page count and size) waits in the clear in ``public_details``, as the record's
columns will hold it.

Uploads staged before this revision keep ``details_sealed`` and still store: the
job converts them the old way. Each row holds one form or the other (a CHECK),
and key rotation re-seals every twin column like any PHI column.

The downgrade cannot seal what the new form holds in the clear back into one
value (a migration holds no keys): it refuses while any upload in the new form is
staged (let their jobs finish first), and otherwise drops the new columns.

Revision ID: 0009
Revises: 0008
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# (column) of each PHI twin: ``{column}_sealed`` and ``{column}_key_id`` (domain/phi/columns.py)
TWINS = ("records_description", "documents_filename", "documents_data_key")


def upgrade() -> None:
    twins = ",\n".join(
        f"ADD COLUMN {twin}_sealed bytea, ADD COLUMN {twin}_key_id text, "
        f"ADD CONSTRAINT uploads_{twin}_key "
        f"CHECK (({twin}_sealed IS NULL) = ({twin}_key_id IS NULL))"
        for twin in TWINS
    )
    op.execute(
        f"""
        ALTER TABLE uploads
            ALTER COLUMN details_sealed DROP NOT NULL,
            ALTER COLUMN details_key_id DROP NOT NULL,
            ADD COLUMN public_details jsonb,
            {twins},
            ADD CONSTRAINT uploads_details_sealed_key
                CHECK ((details_sealed IS NULL) = (details_key_id IS NULL)),
            -- staged before this revision (details sealed whole) or after (in parts), never both
            ADD CONSTRAINT uploads_details_once
                CHECK ((details_sealed IS NULL) <> (public_details IS NULL));
        """
    )


def downgrade() -> None:
    drops = ",\n".join(f"DROP COLUMN {twin}_sealed, DROP COLUMN {twin}_key_id" for twin in TWINS)
    op.execute(
        f"""
        DO $$
        BEGIN
            IF EXISTS (SELECT 1 FROM uploads WHERE public_details IS NOT NULL) THEN
                RAISE EXCEPTION 'uploads staged by revision 0009 wait for their jobs, and a '
                    'migration cannot seal their details the old way: let the jobs finish first';
            END IF;
        END
        $$;
        ALTER TABLE uploads
            DROP CONSTRAINT uploads_details_once,
            DROP CONSTRAINT uploads_details_sealed_key,
            {drops},
            DROP COLUMN public_details,
            ALTER COLUMN details_sealed SET NOT NULL,
            ALTER COLUMN details_key_id SET NOT NULL;
        """
    )
