"""The patient-file pipeline: staged uploads, storing them as jobs, content retention."""
