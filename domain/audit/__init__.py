"""The audit trail: its chain, reading and verifying it, its monthly partitions."""
