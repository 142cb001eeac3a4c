"""The scans feature's job kinds: the file pipeline's storing job for scans, then reading one
(declared with the kind, domain/scans/kind.py, which enqueues it)."""

from __future__ import annotations

from domain.scans.kind import SCAN_READ, SCANS

SCAN_STORE = SCANS.store_job

__all__ = ["SCAN_READ", "SCAN_STORE"]
