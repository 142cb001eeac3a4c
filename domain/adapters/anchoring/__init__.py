"""Anchor batches in PostgreSQL and the Stellar ledger."""
