"""A client that trickles an upload is cut off at the deadline (408) and leaves nothing behind;
while slow uploads hold their slots, further uploads are turned away (503), not queued forever,
and the rest of the API keeps answering."""

from __future__ import annotations

import socket
import time
import uuid

import httpx
import pytest

from tests.support.people import PATIENT_ALICE
from tests.support.processes import start_api
from tests.support.rows import rows
from tests.support.servers import free_port
from tests.support.users import Member, add_user

pytestmark = pytest.mark.slow

DEADLINE_SECONDS = 2


def upload_head(patient_id: uuid.UUID, boundary: str, headers: dict[str, str], size: int) -> bytes:
    """A record upload's request line, headers and first form parts, promising ``size`` bytes."""
    parts = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="patientId"\r\n\r\n'
        f'{patient_id}\r\n--{boundary}\r\nContent-Disposition: form-data; name="recordType"'
        f'\r\n\r\nOTHER\r\n--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="r.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode()
    lines = [
        "POST /api/v1/records HTTP/1.1",
        "Host: 127.0.0.1",
        f"Authorization: {headers['Authorization']}",
        f"Content-Type: multipart/form-data; boundary={boundary}",
        f"Content-Length: {len(parts) + size}",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + parts


def trickling_upload(port: int, patient: Member) -> socket.socket:
    """Starts an upload that sends its first bytes and then almost nothing."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(upload_head(patient.id, uuid.uuid4().hex, patient.headers, 1_000_000))
    sock.sendall(b"x" * 100)
    return sock


def status_of(sock: socket.socket) -> int:
    answer = sock.recv(4096).decode(errors="replace")
    return int(answer.split(" ", 2)[1])


async def test_a_trickled_upload_ends_at_the_deadline_and_stores_nothing(
    settings, services, processes, log_dir
) -> None:
    patient = Member(person=PATIENT_ALICE, id=await add_user(services, PATIENT_ALICE))
    port = free_port()
    processes.append(
        start_api(settings, log_dir, port, UPLOAD_DEADLINE_SECONDS=str(DEADLINE_SECONDS))
    )
    started = time.monotonic()
    with trickling_upload(port, patient) as sock:
        status = status_of(sock)
    waited = time.monotonic() - started

    assert status == 408
    assert DEADLINE_SECONDS <= waited < DEADLINE_SECONDS + 10
    assert rows(settings.database_url, "SELECT count(*) AS n FROM uploads")[0]["n"] == 0
    assert rows(settings.database_url, "SELECT count(*) AS n FROM upload_chunks")[0]["n"] == 0
    assert rows(settings.database_url, "SELECT count(*) AS n FROM jobs")[0]["n"] == 0


async def test_uploads_beyond_half_the_pool_are_turned_away_and_reads_still_answer(
    settings, services, processes, log_dir
) -> None:
    patient = Member(person=PATIENT_ALICE, id=await add_user(services, PATIENT_ALICE))
    port = free_port()
    processes.append(
        start_api(settings, log_dir, port, DB_POOL_MAX_SIZE="4", UPLOAD_DEADLINE_SECONDS="30")
    )
    slow = [trickling_upload(port, patient) for _ in range(2)]  # half of a pool of 4
    try:
        time.sleep(0.5)
        with trickling_upload(port, patient) as third:
            assert status_of(third) == 503
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            jobs = client.get("/api/v1/jobs", headers=patient.headers)
        assert jobs.status_code == 200
    finally:
        for sock in slow:
            sock.close()
