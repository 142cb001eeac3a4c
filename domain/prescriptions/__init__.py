"""Prescriptions: items, their schedules (frequency.py), lifecycle and doses."""
