"""Durable jobs: the state machine, submitting a command as a job, and job control."""
