"""The credential-route limit holds across API processes: both count in the same Redis."""

from __future__ import annotations

import httpx
import msgspec
import pytest

from tests.support.people import PATIENT_BOREY
from tests.support.processes import start_api
from tests.support.servers import free_port

pytestmark = pytest.mark.slow

WRONG_PASSWORD = {"email": PATIENT_BOREY.email, "password": "not the password"}


def test_the_fourth_login_in_a_window_is_refused_whichever_process_serves_it(
    settings, processes, log_dir
) -> None:
    tight = msgspec.structs.replace(settings, rate_limit_auth_per_minute=3)
    ports = [free_port(), free_port()]
    for port in ports:
        processes.append(start_api(tight, log_dir, port))

    answers = []
    for attempt in range(6):
        port = ports[attempt % 2]  # alternate: A, B, A, B, A, B
        response = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/auth/login", json=WRONG_PASSWORD, timeout=10
        )
        answers.append((port, response.status_code, response.headers.get("ratelimit-remaining")))

    assert [status for _, status, _ in answers] == [401, 401, 401, 429, 429, 429]
    assert [left for _, _, left in answers] == ["2", "1", "0", "0", "0", "0"]
    # the first refusal came from the process that had seen only one earlier request
    assert answers[3][0] == ports[1] and answers[4][0] == ports[0]
    for process in processes:
        assert process.process.poll() is None, process.output()[-2000:]
