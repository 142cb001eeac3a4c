"""In-memory fakes of the domain's ports, for fast unit tests of the use cases' rules.

They implement the same protocols as the PostgreSQL adapters (structurally)
and keep to the domain's own rules where the adapters do (a job's transitions
come from ``domain.jobs.model.TRANSITIONS``). A unit of work runs on a copy
of the fake database and replaces it only when its block ends without an
error, so a refused command leaves nothing behind, as a rolled-back
transaction does. Integration tests keep to the real services.
"""
