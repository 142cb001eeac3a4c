"""Prescriptions in PostgreSQL."""
