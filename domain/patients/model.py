"""A patient's own data as the platform holds it, and the rules for changing it.

The phone, date of birth and clinical notes are sealed at rest (see
``domain.phi``); a store hands them over sealed and only a service, after
the access check, opens them. The doctor directory lives here too: it is
what a patient searches to find a doctor, and holds professional data only.
"""

from __future__ import annotations

import uuid
from datetime import date

import msgspec

from domain.accounts.model import check_date_of_birth, clean_phone
from domain.errors import ValidationFailed
from domain.sealing import Sealed

MAX_CLINICAL_NOTES_CHARS = 20_000


class PatientRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A patient's row as stored: the PHI still sealed."""

    id: uuid.UUID
    name: str
    email: str
    phone: Sealed | None
    date_of_birth: Sealed | None


class Patient(msgspec.Struct, frozen=True, kw_only=True):
    """A patient's data opened for a caller who passed the access check."""

    id: uuid.UUID
    name: str
    email: str
    phone: str | None
    date_of_birth: date | None


class ContactChanges(msgspec.Struct, frozen=True, kw_only=True):
    """What a patient may change about themselves; UNSET leaves a field alone, None clears it."""

    phone: str | msgspec.UnsetType | None = msgspec.UNSET
    date_of_birth: date | msgspec.UnsetType | None = msgspec.UNSET

    def changed_fields(self) -> tuple[str, ...]:
        """The names recorded in the audit trail (never the values)."""
        return tuple(
            name for name in ("phone", "date_of_birth") if getattr(self, name) is not msgspec.UNSET
        )


def clean_changes(changes: ContactChanges, today: date) -> ContactChanges:
    """The changes with values cleaned by the sign-up rules; raises ValidationFailed."""
    if not changes.changed_fields():
        raise ValidationFailed("name at least one of phone, dateOfBirth", field="body")
    phone, born = changes.phone, changes.date_of_birth
    return ContactChanges(
        phone=clean_phone(phone) if isinstance(phone, str) else phone,
        date_of_birth=check_date_of_birth(born, today) if isinstance(born, date) else born,
    )


def validate_clinical_notes(notes: str) -> None:
    if len(notes) > MAX_CLINICAL_NOTES_CHARS:
        raise ValidationFailed(
            f"may hold at most {MAX_CLINICAL_NOTES_CHARS} characters", field="notes"
        )


class DoctorListing(msgspec.Struct, frozen=True, kw_only=True):
    """A doctor as the directory shows them: public professional data, no contact details."""

    id: uuid.UUID
    name: str
    specialty: str | None
    consultation_fee_cents: int | None
    currency: str | None
