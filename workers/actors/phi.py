"""PHI key rotation: the handler behind ``phi.rotate``."""

from __future__ import annotations

from typing import Any

from domain.adapters.bootstrap import Services
from domain.audit import SYSTEM
from domain.errors import PermanentFailure
from domain.jobs import Job
from domain.phi_rotation import rotate_keys


async def rotate_phi_keys(job: Job, services: Services) -> dict[str, Any]:
    report = await rotate_keys(services.uow, services.cipher, SYSTEM)
    if report.unreadable:
        counts = ", ".join(f"{column}: {n}" for column, n in sorted(report.unreadable.items()))
        # Failing (not succeeding with a footnote) keeps anyone from retiring the old key.
        raise PermanentFailure(
            f"some sealed values could not be opened and were left as they are ({counts}); "
            "keep every key they may be sealed with in PHI_KEYS",
            code="phi_unreadable",
        )
    return {"resealed": report.resealed}
