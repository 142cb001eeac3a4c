"""Medical records in PostgreSQL."""
