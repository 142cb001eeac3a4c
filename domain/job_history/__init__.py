"""Job history retention: finished jobs and their events are dropped after JOB_RETENTION_DAYS."""
