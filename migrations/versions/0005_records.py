"""Medical records and documents on IPFS, their staged uploads, and Stellar anchor batches.

An upload is staged in PostgreSQL (``uploads`` + ``upload_chunks``) in the same
transaction as its job, so a client told "accepted" always has its bytes
durably kept, and a refused upload leaves nothing behind. The job moves the
bytes to IPFS and only then writes the ``records`` / ``documents`` row: a
record whose content never reached IPFS does not exist.

Sealed columns follow the house rule: ``{name}_sealed`` beside ``{name}_key_id``.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

RECORD_TYPES = (
    "'MEDICAL_REPORT', 'LAB_RESULT', 'PRESCRIPTION', 'IMAGING', 'DISCHARGE_SUMMARY', 'OTHER'"
)


def upgrade() -> None:
    op.execute(
        f"""
        CREATE TABLE uploads (
            id              uuid PRIMARY KEY,
            job_id          uuid NOT NULL UNIQUE REFERENCES jobs (id),
            purpose         text NOT NULL CHECK (purpose IN ('record', 'document')),
            patient_id      uuid NOT NULL REFERENCES users (id),
            uploaded_by     uuid NOT NULL REFERENCES users (id),
            size_bytes      bigint NOT NULL CHECK (size_bytes >= 0),
            sha256          bytea NOT NULL,
            -- what the upload will become (record type and description, or a document's
            -- file name and data key), sealed as one value: it is PHI
            details_sealed  bytea NOT NULL,
            details_key_id  text NOT NULL,
            created_at      timestamptz NOT NULL
        );

        CREATE TABLE upload_chunks (
            upload_id  uuid NOT NULL REFERENCES uploads (id) ON DELETE CASCADE
                       DEFERRABLE INITIALLY DEFERRED,
            seq        integer NOT NULL,
            data       bytea NOT NULL,
            PRIMARY KEY (upload_id, seq)
        );
        -- encrypted bytes do not compress: do not try
        ALTER TABLE upload_chunks ALTER COLUMN data SET STORAGE EXTERNAL;

        CREATE TABLE anchor_batches (
            id              uuid PRIMARY KEY,
            root            bytea NOT NULL CHECK (length(root) = 32),
            leaf_count      integer NOT NULL CHECK (leaf_count > 0),
            status          text NOT NULL CHECK (status IN ('signed', 'anchored')),
            network         text NOT NULL,
            source_account  text NOT NULL,
            envelope_xdr    text NOT NULL,
            tx_hash         text NOT NULL,
            sequence        bigint NOT NULL,
            fee             bigint NOT NULL,
            ledger          bigint,
            created_at      timestamptz NOT NULL,
            anchored_at     timestamptz,
            CHECK ((status = 'anchored') = (ledger IS NOT NULL))
        );
        CREATE INDEX anchor_batches_unanchored ON anchor_batches (created_at)
            WHERE status <> 'anchored';

        CREATE TABLE records (
            id                  uuid PRIMARY KEY,
            patient_id          uuid NOT NULL REFERENCES users (id),
            uploaded_by         uuid NOT NULL REFERENCES users (id),
            job_id              uuid NOT NULL UNIQUE REFERENCES jobs (id),
            record_type         text NOT NULL CHECK (record_type IN ({RECORD_TYPES})),
            description_sealed  bytea,
            description_key_id  text,
            cid                 text NOT NULL,
            size_bytes          bigint NOT NULL,
            sha256              bytea NOT NULL,
            anchor_status       text NOT NULL DEFAULT 'pending'
                                CHECK (anchor_status IN ('pending', 'anchored')),
            anchor_batch_id     uuid REFERENCES anchor_batches (id),
            leaf_index          integer,
            proof               jsonb,
            created_at          timestamptz NOT NULL,
            deleted_at          timestamptz,
            deleted_by          uuid REFERENCES users (id),
            unpinned_at         timestamptz,
            CHECK ((description_sealed IS NULL) = (description_key_id IS NULL)),
            CHECK ((anchor_batch_id IS NULL) = (proof IS NULL)),
            CHECK (anchor_status = 'pending' OR anchor_batch_id IS NOT NULL)
        );
        CREATE INDEX records_by_patient ON records (patient_id, created_at DESC, id DESC)
            WHERE deleted_at IS NULL;
        CREATE INDEX records_to_batch ON records (created_at, id)
            WHERE anchor_batch_id IS NULL;
        CREATE INDEX records_in_batch ON records (anchor_batch_id)
            WHERE anchor_batch_id IS NOT NULL;
        CREATE INDEX records_to_unpin ON records (deleted_at)
            WHERE deleted_at IS NOT NULL AND unpinned_at IS NULL;

        CREATE TABLE documents (
            id                uuid PRIMARY KEY,
            patient_id        uuid NOT NULL REFERENCES users (id),
            uploaded_by       uuid NOT NULL REFERENCES users (id),
            job_id            uuid NOT NULL UNIQUE REFERENCES jobs (id),
            filename_sealed   bytea NOT NULL,
            filename_key_id   text NOT NULL,
            -- the document's own AES-256 key, wrapped by the PHI keyring
            data_key_sealed   bytea NOT NULL,
            data_key_key_id   text NOT NULL,
            cid               text NOT NULL,   -- of the ciphertext
            size_bytes        bigint NOT NULL, -- of the plaintext PDF
            page_count        integer NOT NULL,
            created_at        timestamptz NOT NULL,
            deleted_at        timestamptz,
            deleted_by        uuid REFERENCES users (id),
            unpinned_at       timestamptz
        );
        CREATE INDEX documents_by_patient ON documents (patient_id, created_at DESC, id DESC)
            WHERE deleted_at IS NULL;
        CREATE INDEX documents_to_unpin ON documents (deleted_at)
            WHERE deleted_at IS NOT NULL AND unpinned_at IS NULL;
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP TABLE documents;
        DROP TABLE records;
        DROP TABLE anchor_batches;
        DROP TABLE upload_chunks;
        DROP TABLE uploads;
        """
    )
