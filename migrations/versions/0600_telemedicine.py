"""Telemedicine: doctors' calendars (weekly windows and day exceptions in the doctor's zone)
and consultations, double booking made impossible by an exclusion constraint.

A consultation blocks ``[starts_at, blocked_until)`` (its end plus the doctor's buffer). The
constraint covers held and confirmed ones only: a released, cancelled or finished consultation
frees its time. It needs btree_gist for the ``doctor_id WITH =`` part.

Revision ID: 0600
Revises: 0202
"""

from alembic import op

revision = "0600"
down_revision = "0202"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE EXTENSION IF NOT EXISTS btree_gist;

        CREATE TABLE doctor_calendars (
            doctor_id   uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
            time_zone   text NOT NULL,
            updated_at  timestamptz NOT NULL
        );

        CREATE TABLE availability_windows (
            doctor_id       uuid NOT NULL REFERENCES doctor_calendars (doctor_id)
                                ON DELETE CASCADE,
            weekday         smallint NOT NULL CHECK (weekday BETWEEN 1 AND 7),
            start_time      time NOT NULL,
            end_time        time NOT NULL CHECK (end_time > start_time),
            slot_minutes    integer NOT NULL CHECK (slot_minutes BETWEEN 5 AND 480),
            buffer_minutes  integer NOT NULL CHECK (buffer_minutes BETWEEN 0 AND 240),
            PRIMARY KEY (doctor_id, weekday, start_time)
        );

        CREATE TABLE availability_exceptions (
            id              uuid PRIMARY KEY,
            doctor_id       uuid NOT NULL REFERENCES doctor_calendars (doctor_id)
                                ON DELETE CASCADE,
            day             date NOT NULL,
            kind            text NOT NULL CHECK (kind IN ('off', 'extra')),
            start_time      time,
            end_time        time,
            slot_minutes    integer,
            buffer_minutes  integer,
            CHECK ((start_time IS NULL) = (end_time IS NULL)),
            CHECK (kind = 'off' OR start_time IS NOT NULL)
        );
        CREATE INDEX availability_exceptions_by_day ON availability_exceptions (doctor_id, day);

        CREATE TABLE consultations (
            id               uuid PRIMARY KEY,
            patient_id       uuid NOT NULL REFERENCES users (id),
            doctor_id        uuid NOT NULL REFERENCES users (id),
            starts_at        timestamptz NOT NULL,
            ends_at          timestamptz NOT NULL CHECK (ends_at > starts_at),
            blocked_until    timestamptz NOT NULL,
            status           text NOT NULL CHECK (status IN ('held', 'confirmed', 'in_progress',
                                 'completed', 'cancelled', 'no_show', 'released')),
            hold_expires_at  timestamptz,
            payment_id       uuid REFERENCES payments (id),
            room             text NOT NULL UNIQUE,
            created_at       timestamptz NOT NULL,
            updated_at       timestamptz NOT NULL,
            CHECK (blocked_until >= ends_at),
            CONSTRAINT consultations_no_double_booking EXCLUDE USING gist (
                doctor_id WITH =, tstzrange(starts_at, blocked_until, '[)') WITH &&
            ) WHERE (status IN ('held', 'confirmed'))
        );
        CREATE INDEX consultations_doctor_time ON consultations (doctor_id, starts_at);
        CREATE INDEX consultations_patient_time ON consultations (patient_id, starts_at);
        CREATE INDEX consultations_lapsed_holds ON consultations (hold_expires_at)
            WHERE status = 'held';
        CREATE INDEX consultations_payment ON consultations (payment_id)
            WHERE payment_id IS NOT NULL;
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP TABLE consultations;
        DROP TABLE availability_exceptions;
        DROP TABLE availability_windows;
        DROP TABLE doctor_calendars;
        """
    )
