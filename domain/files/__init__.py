"""The patient-file pipeline, one path for every kind of file: upload and staging, the storing
job, reads, deletion and retention, each parameterised by a file kind (kind.py)."""
