"""Payments in PostgreSQL, the Bakong Open API client, and KHQR images."""
