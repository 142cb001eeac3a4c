"""The consultations store."""
