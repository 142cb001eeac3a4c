"""Doctor-patient connections in PostgreSQL."""
