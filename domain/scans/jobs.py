"""The scans feature's job kinds: the file pipeline's storing job, for scans."""

from __future__ import annotations

from domain.scans.kind import SCANS

SCAN_STORE = SCANS.store_job
