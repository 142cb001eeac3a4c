"""Prescriptions, their items and history; the doses an active prescription schedules, and
their trail; each patient's time zone.

An item's details (medicine, strength, dose, frequency, timing, instructions) identify the
treatment, so they are sealed at rest as one value (``details_sealed``); what is left in
the clear is what jobs select on: dates, status, the parsed schedule's slot times do not
name a medicine. ``doses_until`` is the last local day whose doses exist (a rolling
horizon, extended daily). Doses hold ``due_at`` (UTC) and the patient's local day;
``dose_events`` keeps every status change (taken, skipped, missed, edited, cancelled) for
the adherence roll-ups. A skip's reason is sealed.

Revision ID: 0201
Revises: 0200
"""

from alembic import op

revision = "0201"
down_revision = "0200"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE patient_profiles ADD COLUMN time_zone text NOT NULL DEFAULT 'UTC';

        CREATE TABLE prescriptions (
            id            uuid PRIMARY KEY,
            patient_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            doctor_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            status        text NOT NULL CHECK (status IN ('draft', 'active', 'completed',
                                                          'expired', 'cancelled')),
            starts_on     date NOT NULL,
            ends_on       date NOT NULL,
            created_at    timestamptz NOT NULL,
            updated_at    timestamptz NOT NULL,
            activated_at  timestamptz
        );
        CREATE INDEX prescriptions_by_patient ON prescriptions (patient_id, created_at DESC);
        CREATE INDEX prescriptions_live_end ON prescriptions (ends_on)
            WHERE status IN ('draft', 'active');

        CREATE TABLE prescription_items (
            id               uuid PRIMARY KEY,
            prescription_id  uuid NOT NULL REFERENCES prescriptions (id) ON DELETE CASCADE,
            position         int NOT NULL,
            starts_on        date NOT NULL,
            ends_on          date NOT NULL,
            as_needed        boolean NOT NULL,
            doses_until      date,
            details_sealed   bytea NOT NULL,
            details_key_id   text NOT NULL,
            UNIQUE (prescription_id, position),
            CHECK (ends_on >= starts_on)
        );

        CREATE TABLE prescription_events (
            id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            prescription_id  uuid NOT NULL REFERENCES prescriptions (id) ON DELETE CASCADE,
            action           text NOT NULL,
            actor_id         text NOT NULL,
            from_status      text,
            to_status        text NOT NULL,
            changed_fields   text[] NOT NULL DEFAULT '{}',
            at               timestamptz NOT NULL
        );
        CREATE INDEX prescription_events_by_prescription
            ON prescription_events (prescription_id, id);

        CREATE TABLE doses (
            id                uuid PRIMARY KEY,
            patient_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            prescription_id   uuid NOT NULL REFERENCES prescriptions (id) ON DELETE CASCADE,
            item_id           uuid NOT NULL REFERENCES prescription_items (id) ON DELETE CASCADE,
            due_at            timestamptz NOT NULL,
            local_date        date NOT NULL,
            amount            text NOT NULL,
            status            text NOT NULL CHECK (status IN ('scheduled', 'taken', 'skipped',
                                                              'missed', 'cancelled')),
            late              boolean NOT NULL DEFAULT false,
            taken_at          timestamptz,
            reason_sealed     bytea,
            reason_key_id     text,
            reminded_at       timestamptz,
            updated_at        timestamptz NOT NULL,
            UNIQUE (item_id, due_at)
        );
        CREATE INDEX doses_by_patient ON doses (patient_id, due_at);
        CREATE INDEX doses_by_prescription ON doses (prescription_id, due_at);
        CREATE INDEX doses_scheduled_due ON doses (due_at) WHERE status = 'scheduled';

        CREATE TABLE dose_events (
            id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            dose_id          uuid NOT NULL REFERENCES doses (id) ON DELETE CASCADE,
            patient_id       uuid NOT NULL,
            prescription_id  uuid NOT NULL,
            kind             text NOT NULL CHECK (kind IN ('taken', 'skipped', 'missed',
                                                          'edited', 'cancelled')),
            from_status      text NOT NULL,
            to_status        text NOT NULL,
            late             boolean NOT NULL DEFAULT false,
            due_at           timestamptz NOT NULL,
            at               timestamptz NOT NULL
        );
        CREATE INDEX dose_events_by_patient ON dose_events (patient_id, id);
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP TABLE dose_events;
        DROP TABLE doses;
        DROP TABLE prescription_events;
        DROP TABLE prescription_items;
        DROP TABLE prescriptions;
        ALTER TABLE patient_profiles DROP COLUMN time_zone;
        """
    )
