"""Scans as a kind of patient file: photographed prescriptions, checked and encrypted by us.

Who may: the patient and their connected doctors upload, list and download; only the
patient deletes (the ``scan.*`` rows of domain/policies.py). The storing job keeps the
ciphertext on the content store like any file.
"""

from __future__ import annotations

from domain.files.kind import Accepts, Encryption, FileKind, FilePolicies
from domain.phi.columns import SCAN_DATA_KEY
from domain.scans.files import MAX_SCAN_BYTES, StoredScan, scan_facts, scan_form

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
)
