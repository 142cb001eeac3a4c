"""Doctors' availability: weekly templates and exceptions in the doctor's zone; free times."""
