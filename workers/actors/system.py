"""Jobs the platform runs for itself."""

from __future__ import annotations

from domain.adapters.bootstrap import Services
from domain.jobs import Job


async def noop(job: Job, services: Services) -> dict[str, bool]:
    """Does nothing: measures the lifecycle's own cost (bench/) and checks a pool end to end."""
    return {"ok": True}
