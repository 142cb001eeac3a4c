"""Where a prescription came from: written here by a doctor (``manual``) or confirmed from a
scanned paper prescription (``scan``). A patient who confirms their own scan keeps a record
with no prescribing doctor of ours (``doctor_id`` NULL) and the prescriber's name as printed,
sealed; only a scan's prescription may lack a doctor.

Revision ID: 0705
Revises: 0702
"""

from alembic import op

revision = "0705"
down_revision = "0702"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE prescriptions
            ADD COLUMN source text NOT NULL DEFAULT 'manual'
                CHECK (source IN ('manual', 'scan')),
            ADD COLUMN prescriber_sealed bytea,
            ADD COLUMN prescriber_key_id text,
            ADD CHECK ((prescriber_sealed IS NULL) = (prescriber_key_id IS NULL)),
            ALTER COLUMN doctor_id DROP NOT NULL,
            ADD CONSTRAINT prescriptions_doctor_unless_scanned
                CHECK (doctor_id IS NOT NULL OR source = 'scan');
        """
    )


def downgrade() -> None:
    # A patient's own record of a paper prescription has no doctor to put back: the downgrade
    # refuses rather than invent one or delete the patient's data.
    op.execute(
        """
        DO $$
        BEGIN
            IF EXISTS (SELECT 1 FROM prescriptions WHERE doctor_id IS NULL) THEN
                RAISE EXCEPTION 'patients'' own scanned prescriptions have no doctor: '
                                'cannot downgrade below 0705 while they exist';
            END IF;
        END $$;
        ALTER TABLE prescriptions
            DROP CONSTRAINT prescriptions_doctor_unless_scanned,
            ALTER COLUMN doctor_id SET NOT NULL,
            DROP COLUMN prescriber_key_id,
            DROP COLUMN prescriber_sealed,
            DROP COLUMN source;
        """
    )
