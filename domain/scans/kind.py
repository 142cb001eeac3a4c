"""Scans as a kind of patient file: photographed prescriptions, checked and encrypted by us,
then read: the storing job enqueues ``scan.read`` with the scan's row.

Each upload counts against the patient's plan's scans a month (domain/scans/quota.py).
Who may: the patient and their connected doctors upload, list and download; only the
patient deletes (the ``scan.*`` rows of domain/policies.py). The storing job keeps the
ciphertext on the content store like any file.
"""

from __future__ import annotations

import functools

from domain.files.kind import Accepts, Encryption, FileKind, FilePolicies
from domain.files.model import StoredFile
from domain.jobs.model import Job, JobKind, NewJob
from domain.phi.columns import SCAN_DATA_KEY
from domain.scans.files import MAX_SCAN_BYTES, StoredScan, scan_facts, scan_form
from domain.scans.quota import admit_scan
from domain.scans.reading import ReadPayload, read_scan


def read_next(scan: StoredFile, stored_by: Job) -> NewJob:
    """The stored scan's reading, owned by whoever uploaded it (they follow both jobs)."""
    return NewJob(
        kind=SCAN_READ,
        owner_id=stored_by.owner_id,
        payload={"scanId": str(scan.id)},
        idempotency_key=f"scan.read:{scan.id}",
    )


SCANS = FileKind(
    name="scan",
    table="scans",
    row=StoredScan,
    # several types come in (JPEG, PNG, HEIC, PDF): the row says which; served as bytes
    accepts=Accepts("application/octet-stream", MAX_SCAN_BYTES),
    encryption=Encryption(key="data_key", check=scan_facts),
    read_form=scan_form,
    sealed={"data_key": SCAN_DATA_KEY},
    policies=FilePolicies.of("scan", read=None, content="scan.read"),
    content_action="download",
    then=read_next,
    admit=admit_scan,
)

# The engine down (a crash, out of memory): retried soon, then later, then failed, visibly.
# Its own queue (``ocr``): a page takes the engine a second or more of both cores.
SCAN_READ = JobKind(
    name="scan.read",
    queue="ocr",
    handler=functools.partial(read_scan, SCANS),
    payload=ReadPayload,
    retry_delays=(5.0, 60.0, 300.0),
    timeout_seconds=300.0,
)
