"""Doctor-patient connections: the link that lets a doctor see a patient's data."""
