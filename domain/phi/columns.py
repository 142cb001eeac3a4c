"""Where PHI is sealed at rest, and the context that binds each sealed value to its place.

Every sealed column is listed here once: services that seal and open values,
and the key-rotation job that re-seals them, all work from this list."""

from __future__ import annotations

from domain.sealing import SealedColumn

USER_NAME = SealedColumn("users", "name", "id")
USER_EMAIL = SealedColumn("users", "email", "id")  # found by its keyed lookup, users.email_lookup
USER_PHONE = SealedColumn("users", "phone", "id")


USER_TOTP_SECRET = SealedColumn("users", "totp_secret", "id")


PATIENT_DATE_OF_BIRTH = SealedColumn("patient_profiles", "date_of_birth", "user_id")


PATIENT_CLINICAL_NOTES = SealedColumn("patient_profiles", "clinical_notes", "user_id")


# An upload staged before sealing-once (migration 0009): its details sealed whole, as JSON.
UPLOAD_DETAILS = SealedColumn("uploads", "details", "id")


RECORD_DESCRIPTION = SealedColumn("records", "description", "id")


DOCUMENT_FILENAME = SealedColumn("documents", "filename", "id")


DOCUMENT_DATA_KEY = SealedColumn("documents", "data_key", "id")


SCAN_DATA_KEY = SealedColumn("scans", "data_key", "id")  # a prescription scan's own key
# What the OCR engine read on a scan and the draft made of it (names, medicines), as JSON.
SCAN_READING = SealedColumn("scan_readings", "reading", "scan_id")


EMAIL_TO_ADDRESS = SealedColumn("email_messages", "to_address", "id")


EMAIL_DATA = SealedColumn("email_messages", "data", "id")  # the template's fields, as JSON

# What a staged upload will become, sealed once by the API for the stored file's own column
# and moved there as ciphertext by the storing job (same row id: an upload's id is its file's).
STAGED_RECORD_DESCRIPTION = RECORD_DESCRIPTION.staged_in("uploads")
STAGED_DOCUMENT_FILENAME = DOCUMENT_FILENAME.staged_in("uploads")
STAGED_DOCUMENT_DATA_KEY = DOCUMENT_DATA_KEY.staged_in("uploads")
STAGED_SCAN_DATA_KEY = SCAN_DATA_KEY.staged_in("uploads")
STAGED_COLUMNS = (
    STAGED_RECORD_DESCRIPTION,
    STAGED_DOCUMENT_FILENAME,
    STAGED_DOCUMENT_DATA_KEY,
    STAGED_SCAN_DATA_KEY,
)

# The keys of keyed lookups (users.email_lookup): random, made once per database, sealed
# here so that re-sealing keeps their value (domain/adapters/accounts/lookup_keys.py says why).
LOOKUP_KEY = SealedColumn("lookup_keys", "key", "id")

NOTICE_DATA = SealedColumn("notices", "data", "id")  # an in-app notice's fields, as JSON

VITAL_MEASUREMENT = SealedColumn("vital_readings", "measurement", "id")  # the values, as JSON
# What identifies a treatment: a prescription item's medicine, strength, dose, frequency,
# timing and instructions, as JSON; and why a patient skipped a dose.
PRESCRIPTION_ITEM_DETAILS = SealedColumn("prescription_items", "details", "id")
# The prescriber's name as printed on a scanned paper prescription (a patient's own record).
PRESCRIPTION_PRESCRIBER = SealedColumn("prescriptions", "prescriber", "id")
DOSE_REASON = SealedColumn("doses", "reason", "id")
PRESCRIPTION_BATCH_ITEMS = SealedColumn("prescription_batches", "items", "id")
# A webhook delivery's raw body, as the provider signed it (payment callbacks name amounts).
WEBHOOK_BODY = SealedColumn("webhook_deliveries", "body", "id")

# What a payment says about money: amount, KHQR code, paid and refunded amounts (JSON).
PAYMENT_DETAILS = SealedColumn("payments", "details", "id")

# A doctor's notes of a consultation.
CONSULTATION_NOTES = SealedColumn("consultations", "notes", "id")
# The same notes once their consultation moved to the history (migration 0605): moved as
# ciphertext, so still bound to ``consultations.notes``.
CONSULTATION_HISTORY_NOTES = SealedColumn(
    "consultations_history",
    "notes",
    "id",
    bound_to=CONSULTATION_NOTES.place,
    partition_key="starts_at",  # monthly partitions
)

SEALED_COLUMNS: tuple[SealedColumn, ...] = (
    USER_NAME,
    USER_EMAIL,
    USER_PHONE,
    USER_TOTP_SECRET,
    PATIENT_DATE_OF_BIRTH,
    PATIENT_CLINICAL_NOTES,
    UPLOAD_DETAILS,
    *STAGED_COLUMNS,
    RECORD_DESCRIPTION,
    DOCUMENT_FILENAME,
    DOCUMENT_DATA_KEY,
    SCAN_DATA_KEY,
    SCAN_READING,
    EMAIL_TO_ADDRESS,
    EMAIL_DATA,
    NOTICE_DATA,
    CONSULTATION_NOTES,
    CONSULTATION_HISTORY_NOTES,
    VITAL_MEASUREMENT,
    PRESCRIPTION_ITEM_DETAILS,
    PRESCRIPTION_PRESCRIBER,
    DOSE_REASON,
    PRESCRIPTION_BATCH_ITEMS,
    WEBHOOK_BODY,
    PAYMENT_DETAILS,
    LOOKUP_KEY,
)
