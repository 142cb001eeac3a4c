"""PHI at rest: every sealed column, and re-sealing them under a new key."""
