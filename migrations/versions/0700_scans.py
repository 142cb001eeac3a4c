"""Prescription scans: a kind of patient file (photos and PDFs we encrypt), and the twin of its
sealed data key in ``uploads`` where an upload waits for its storing job.

Revision ID: 0700
Revises: 0604
"""

from alembic import op

revision = "0700"
down_revision = "0604"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE scans (
            id                uuid PRIMARY KEY,
            patient_id        uuid NOT NULL REFERENCES users (id),
            uploaded_by       uuid NOT NULL REFERENCES users (id),
            job_id            uuid NOT NULL UNIQUE REFERENCES jobs (id),
            -- the scan's own AES-256 key, wrapped by the PHI keyring
            data_key_sealed   bytea NOT NULL,
            data_key_key_id   text NOT NULL,
            media_type        text NOT NULL
                CHECK (media_type IN ('image/jpeg', 'image/png', 'image/heic', 'application/pdf')),
            page_count        integer NOT NULL CHECK (page_count > 0),
            cid               text NOT NULL,   -- of the ciphertext
            size_bytes        bigint NOT NULL, -- of the plaintext
            created_at        timestamptz NOT NULL,
            deleted_at        timestamptz,
            deleted_by        uuid REFERENCES users (id),
            unpinned_at       timestamptz
        );
        CREATE INDEX scans_by_patient ON scans (patient_id, created_at DESC, id DESC)
            WHERE deleted_at IS NULL;
        CREATE INDEX scans_to_unpin ON scans (deleted_at)
            WHERE deleted_at IS NOT NULL AND unpinned_at IS NULL;

        ALTER TABLE uploads
            DROP CONSTRAINT uploads_purpose_check,
            ADD CONSTRAINT uploads_purpose_check
                CHECK (purpose IN ('record', 'document', 'scan')),
            ADD COLUMN scans_data_key_sealed bytea,
            ADD COLUMN scans_data_key_key_id text,
            ADD CONSTRAINT uploads_scans_data_key_key
                CHECK ((scans_data_key_sealed IS NULL) = (scans_data_key_key_id IS NULL));
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DO $$
        BEGIN
            IF EXISTS (SELECT 1 FROM uploads WHERE purpose = 'scan') THEN
                RAISE EXCEPTION 'scan uploads wait for their jobs: let them finish first';
            END IF;
        END
        $$;
        ALTER TABLE uploads
            DROP CONSTRAINT uploads_purpose_check,
            ADD CONSTRAINT uploads_purpose_check CHECK (purpose IN ('record', 'document')),
            DROP CONSTRAINT uploads_scans_data_key_key,
            DROP COLUMN scans_data_key_sealed,
            DROP COLUMN scans_data_key_key_id;
        DROP TABLE scans;
        """
    )
