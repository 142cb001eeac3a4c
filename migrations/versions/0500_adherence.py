"""Adherence roll-ups: per patient, prescription and local day, kept from the doses' changes.

``adherence_days`` holds each (patient, day, prescription)'s settled doses: due, taken,
late, skipped, missed. A trigger on ``doses`` notes the (patient, day) of every insert,
update or delete that touches a settled dose in ``adherence_changes`` (one row per
statement and window, no uniqueness: a change noted while a roll-up runs is kept for the
next one); the roll-up job recomputes those windows only and deletes the notes it took.

Revision ID: 0500
Revises: 0301
"""

from alembic import op

revision = "0500"
down_revision = "0301"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE adherence_days (
            patient_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            day              date NOT NULL,
            prescription_id  uuid NOT NULL REFERENCES prescriptions (id) ON DELETE CASCADE,
            due              integer NOT NULL CHECK (due > 0),
            taken            integer NOT NULL,
            late             integer NOT NULL,
            skipped          integer NOT NULL,
            missed           integer NOT NULL,
            PRIMARY KEY (patient_id, day, prescription_id),
            CHECK (taken + skipped + missed = due AND late <= taken)
        );
        CREATE TABLE adherence_changes (
            id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            patient_id  uuid NOT NULL,
            day         date NOT NULL
        );
        CREATE INDEX doses_by_patient_day ON doses (patient_id, local_date);

        CREATE FUNCTION adherence_note_changes() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                INSERT INTO adherence_changes (patient_id, day)
                SELECT DISTINCT patient_id, local_date FROM fresh
                WHERE status IN ('taken', 'skipped', 'missed');
            ELSIF TG_OP = 'DELETE' THEN
                INSERT INTO adherence_changes (patient_id, day)
                SELECT DISTINCT patient_id, local_date FROM gone
                WHERE status IN ('taken', 'skipped', 'missed');
            ELSE
                INSERT INTO adherence_changes (patient_id, day)
                SELECT patient_id, local_date FROM (
                    SELECT o.patient_id, o.local_date FROM gone o JOIN fresh n USING (id)
                    WHERE (o.status, o.late, o.local_date, o.prescription_id)
                          IS DISTINCT FROM (n.status, n.late, n.local_date, n.prescription_id)
                      AND o.status IN ('taken', 'skipped', 'missed')
                    UNION
                    SELECT n.patient_id, n.local_date FROM gone o JOIN fresh n USING (id)
                    WHERE (o.status, o.late, o.local_date, o.prescription_id)
                          IS DISTINCT FROM (n.status, n.late, n.local_date, n.prescription_id)
                      AND n.status IN ('taken', 'skipped', 'missed')
                ) AS touched;
            END IF;
            RETURN NULL;
        END $$;
        CREATE TRIGGER doses_adherence_insert AFTER INSERT ON doses
            REFERENCING NEW TABLE AS fresh
            FOR EACH STATEMENT EXECUTE FUNCTION adherence_note_changes();
        CREATE TRIGGER doses_adherence_update AFTER UPDATE ON doses
            REFERENCING OLD TABLE AS gone NEW TABLE AS fresh
            FOR EACH STATEMENT EXECUTE FUNCTION adherence_note_changes();
        CREATE TRIGGER doses_adherence_delete AFTER DELETE ON doses
            REFERENCING OLD TABLE AS gone
            FOR EACH STATEMENT EXECUTE FUNCTION adherence_note_changes();
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP TRIGGER doses_adherence_delete ON doses;
        DROP TRIGGER doses_adherence_update ON doses;
        DROP TRIGGER doses_adherence_insert ON doses;
        DROP FUNCTION adherence_note_changes();
        DROP INDEX doses_by_patient_day;
        DROP TABLE adherence_changes;
        DROP TABLE adherence_days;
        """
    )
