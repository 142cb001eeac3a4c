"""PostgreSQL store of the adherence roll-ups."""
