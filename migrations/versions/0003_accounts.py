"""Accounts, credentials, one-time secrets and doctor-patient connections.

Sensitive columns (phone, date of birth, clinical notes, TOTP secret) are
stored AES-256-GCM sealed, each beside the id of the key that sealed it, so
keys can rotate row by row without downtime.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE users (
            id                  uuid PRIMARY KEY,
            email               text NOT NULL,
            role                text NOT NULL CHECK (role IN ('patient', 'doctor', 'admin')),
            status              text NOT NULL CHECK (status IN ('pending', 'active', 'disabled')),
            password_hash       text,
            name                text NOT NULL,
            phone_sealed        bytea,
            phone_key_id        text,
            totp_secret_sealed  bytea,
            totp_secret_key_id  text,
            totp_enabled_at     timestamptz,
            -- the last TOTP time step accepted: a code is never accepted twice
            totp_last_step      bigint,
            email_verified_at   timestamptz,
            last_login_at       timestamptz,
            created_at          timestamptz NOT NULL,
            updated_at          timestamptz NOT NULL,
            CHECK ((phone_sealed IS NULL) = (phone_key_id IS NULL)),
            CHECK ((totp_secret_sealed IS NULL) = (totp_secret_key_id IS NULL)),
            CHECK (totp_enabled_at IS NULL OR totp_secret_sealed IS NOT NULL)
        );
        CREATE UNIQUE INDEX users_email ON users (lower(email));

        CREATE TABLE patient_profiles (
            user_id               uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
            date_of_birth_sealed  bytea,
            date_of_birth_key_id  text,
            clinical_notes_sealed bytea,
            clinical_notes_key_id text,
            CHECK ((date_of_birth_sealed IS NULL) = (date_of_birth_key_id IS NULL)),
            CHECK ((clinical_notes_sealed IS NULL) = (clinical_notes_key_id IS NULL))
        );

        CREATE TABLE doctor_profiles (
            user_id                uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
            specialty              text NOT NULL,
            licence_number         text NOT NULL,
            consultation_fee_cents bigint NOT NULL CHECK (consultation_fee_cents >= 0),
            currency               text NOT NULL DEFAULT 'USD'
        );

        -- Refresh tokens rotate: each use retires the token and issues a child in
        -- the same family. A retired token used again means it was stolen: the
        -- whole family is revoked.
        CREATE TABLE refresh_tokens (
            id          uuid PRIMARY KEY,
            user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            family_id   uuid NOT NULL,
            parent_id   uuid REFERENCES refresh_tokens (id) ON DELETE SET NULL,
            token_hash  bytea NOT NULL UNIQUE,
            created_at  timestamptz NOT NULL,
            expires_at  timestamptz NOT NULL,
            rotated_at  timestamptz,
            revoked_at  timestamptz,
            revoked_reason text
        );
        CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
        CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

        -- Short-lived secrets sent by e-mail or handed out mid-login; only hashes are kept.
        CREATE TABLE one_time_secrets (
            id           uuid PRIMARY KEY,
            user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            purpose      text NOT NULL CHECK (purpose IN ('email_verification',
                            'password_reset', 'login_code', 'mfa_challenge')),
            secret_hash  bytea NOT NULL,
            attempts     integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
            max_attempts integer NOT NULL CHECK (max_attempts > 0),
            created_at   timestamptz NOT NULL,
            expires_at   timestamptz NOT NULL,
            used_at      timestamptz
        );
        CREATE INDEX one_time_secrets_lookup ON one_time_secrets (purpose, secret_hash);
        CREATE INDEX one_time_secrets_user ON one_time_secrets (user_id, purpose);

        CREATE TABLE recovery_codes (
            id         uuid PRIMARY KEY,
            user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            code_hash  bytea NOT NULL,
            created_at timestamptz NOT NULL,
            used_at    timestamptz
        );
        CREATE UNIQUE INDEX recovery_codes_user ON recovery_codes (user_id, code_hash);

        CREATE TABLE connections (
            id              uuid PRIMARY KEY,
            doctor_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            patient_id      uuid REFERENCES users (id) ON DELETE CASCADE,
            status          text NOT NULL
                            CHECK (status IN ('pending', 'active', 'rejected', 'revoked',
                                              'expired')),
            initiated_by    text NOT NULL CHECK (initiated_by IN ('patient', 'doctor')),
            invitation_hash bytea UNIQUE,
            expires_at      timestamptz,
            created_at      timestamptz NOT NULL,
            updated_at      timestamptz NOT NULL,
            -- only an unanswered invitation has no patient yet
            CHECK (patient_id IS NOT NULL
                   OR (initiated_by = 'doctor' AND status IN ('pending', 'expired'))),
            CHECK ((invitation_hash IS NOT NULL) = (initiated_by = 'doctor')),
            CHECK (expires_at IS NOT NULL OR status <> 'pending')
        );
        CREATE UNIQUE INDEX connections_one_live_pair
            ON connections (doctor_id, patient_id) WHERE status IN ('pending', 'active');
        CREATE INDEX connections_patient ON connections (patient_id, status);
        CREATE INDEX connections_doctor ON connections (doctor_id, status);
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP TABLE connections;
        DROP TABLE recovery_codes;
        DROP TABLE one_time_secrets;
        DROP TABLE refresh_tokens;
        DROP TABLE doctor_profiles;
        DROP TABLE patient_profiles;
        DROP TABLE users;
        """
    )
