"""Doses and patients' time zones in PostgreSQL."""
