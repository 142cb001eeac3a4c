"""Vital signs: a patient's readings (blood pressure, heart rate, temperature, blood sugar,
SpO2, weight, height), recorded by the patient or a connected doctor, sealed at rest."""
