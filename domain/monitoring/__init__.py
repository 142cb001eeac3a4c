"""Monitoring: what health checks and metrics ask of the platform (readiness probes, job and
queue figures), as ports the adapters fill."""
