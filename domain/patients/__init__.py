"""Patients' own data, the doctor directory, and who may reach a patient's things."""
