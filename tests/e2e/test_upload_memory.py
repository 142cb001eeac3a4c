"""A 10 MB upload streams through the API process: its peak memory grows by well under 3x the file.

Measured on a real API process (uvicorn, as the Procfile runs it): the kernel's
high-water mark of resident memory (VmHWM) is reset just before the upload
(``/proc/PID/clear_refs``) and read after it.
"""

from __future__ import annotations

import random
import socket
import uuid
from pathlib import Path

import httpx
import pytest

from domain.records.model import MAX_RECORD_BYTES
from tests.support.people import PATIENT_ALICE
from tests.support.processes import start_api
from tests.support.users import Member, add_user

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def memory_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def chunks(data: bytes, size: int = 64 * 1024):
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def test_peak_memory_of_a_10_mb_upload_stays_under_3x_the_file(
    settings, services, processes, log_dir
) -> None:
    patient = Member(person=PATIENT_ALICE, id=await add_user(services, PATIENT_ALICE))
    port = free_port()
    api = start_api(settings, log_dir, port)
    processes.append(api)
    pid = api.process.pid
    data = random.Random(7).randbytes(MAX_RECORD_BYTES)
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="patientId"\r\n\r\n'
        f'{patient.id}\r\n--{boundary}\r\nContent-Disposition: form-data; name="recordType"'
        f'\r\n\r\nOTHER\r\n--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="r.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def body():
        yield head
        yield from chunks(data)
        yield tail

    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        warm = client.get("/health/live")  # the first request's lazy imports are not the upload's
        assert warm.status_code == 200
        reset_peak(pid)
        before = memory_kb(pid, "VmRSS")
        response = client.post(
            "/api/v1/records",
            headers={
                **patient.headers,
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Content-Length": str(len(head) + len(data) + len(tail)),
            },
            content=body(),
        )
        peak = memory_kb(pid, "VmHWM")

    assert response.status_code == 202, response.text
    growth_bytes = (peak - before) * 1024
    print(f"peak RSS growth: {growth_bytes / len(data):.2f}x the file")
    assert growth_bytes < 3 * len(data), f"peak grew by {growth_bytes / len(data):.2f}x the file"
