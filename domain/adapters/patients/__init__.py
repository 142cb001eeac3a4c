"""Patients' data and the doctor directory in PostgreSQL."""
