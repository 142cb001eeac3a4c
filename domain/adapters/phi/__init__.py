"""The PHI cipher and sealed values read for key rotation."""
