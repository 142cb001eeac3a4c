"""The medicines catalogue in PostgreSQL."""
