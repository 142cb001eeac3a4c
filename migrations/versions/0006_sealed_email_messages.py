"""E-mail addresses and template data sealed at rest, like every other PHI column.

``to_address`` and ``data`` become ``to_address_sealed``/``to_address_key_id``
and ``data_sealed``/``data_key_id`` (the house rule, as in 0005). Both are
required, so both pairs are NOT NULL, as ``uploads.details`` is.

Rows stored before this revision cannot be sealed here: a migration holds no
PHI keys (and may import nothing but ``domain.settings``). Keeping their
plaintext would break "PHI stays encrypted at rest", so the upgrade removes it:

- an e-mail whose job is still pending (queued, running or retrying) is not
  sent: its job is failed with the code ``email_dropped_by_migration`` (the
  jobs trigger records that in ``job_events``), so its owner sees why and can
  submit it again; a worker that was mid-send loses the race on its next
  transition, as any worker does against a final job;
- then every row goes, those of finished jobs included: they were only ever
  read to send their e-mail. Resubmitting such a failed job later fails it with
  ``email_missing``.

Run it with the API and workers stopped (as for any column drop): code from
before this revision cannot write the new columns.

The downgrade cannot unseal either, for the same reason: it drops e-mails the
same way and restores the empty plaintext columns.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

DROP_STORED_EMAILS = """
    UPDATE jobs SET status = 'failed',
           error = jsonb_build_object(
               'code', 'email_dropped_by_migration',
               'message',
               'a database migration dropped the e-mail before it was sent; send it again'
           ),
           finished_at = now(), heartbeat_at = NULL, updated_at = now()
    WHERE id IN (SELECT job_id FROM email_messages)
      AND status IN ('queued', 'running', 'retrying');
    DELETE FROM email_messages;
"""


def upgrade() -> None:
    op.execute(
        DROP_STORED_EMAILS
        + """
        ALTER TABLE email_messages
            DROP COLUMN to_address,
            DROP COLUMN data,
            ADD COLUMN to_address_sealed  bytea NOT NULL,
            ADD COLUMN to_address_key_id  text NOT NULL,
            ADD COLUMN data_sealed        bytea NOT NULL,  -- the template's fields, as JSON
            ADD COLUMN data_key_id        text NOT NULL;
        """
    )


def downgrade() -> None:
    op.execute(
        DROP_STORED_EMAILS
        + """
        ALTER TABLE email_messages
            DROP COLUMN to_address_sealed,
            DROP COLUMN to_address_key_id,
            DROP COLUMN data_sealed,
            DROP COLUMN data_key_id,
            ADD COLUMN to_address  text NOT NULL,
            ADD COLUMN data        jsonb NOT NULL;
        """
    )
