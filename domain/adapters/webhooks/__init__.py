"""Webhook deliveries in PostgreSQL, and their signatures checked with ``standardwebhooks``."""
