"""Jobs the platform runs for itself."""

from __future__ import annotations

from domain.jobs.model import Job, JobKind


async def noop(job: Job) -> dict[str, bool]:
    """Does nothing: measures the lifecycle's own cost (bench/) and checks a pool end to end."""
    return {"ok": True}


NOOP = JobKind(name="system.noop", queue="default", handler=noop, retry_delays=(0.0,))
