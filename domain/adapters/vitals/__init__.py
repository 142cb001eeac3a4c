"""The vitals' store in PostgreSQL."""
