"""Consultations: hold, pay, confirm, and what follows."""
