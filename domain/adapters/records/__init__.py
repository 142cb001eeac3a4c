"""Medical records in PostgreSQL: the file pipeline's store, and what anchoring asks of it."""
