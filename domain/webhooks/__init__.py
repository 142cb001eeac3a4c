"""Inbound webhooks, one mechanism for every provider: verify, store sealed, process as a job."""
