"""The audit trail in PostgreSQL: appending, reading, partitions."""
