"""E-mail commands sent to running API processes the way a well-behaved client sends them.

Each command carries its own Idempotency-Key; a 503 (the database away) or a
dropped connection is retried with the same key until the API answers 202.
The report keeps every status seen, so a test can say "never a 500", and the
job each key ended on, so it can say "one job per key".
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx

from tests.support.api import ADMIN
from tests.support.smtp import RecordingHandler

RETRY_PAUSE_SECONDS = 0.3


@dataclass
class LoadReport:
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    jobs_by_key: dict[str, set[str]] = field(default_factory=lambda: collections.defaultdict(set))
    connection_errors: int = 0

    @property
    def job_ids(self) -> set[str]:
        return set().union(*self.jobs_by_key.values()) if self.jobs_by_key else set()


def email_command(n: int) -> dict[str, object]:
    return {"to": f"patient{n}@example.org", "template": "welcome", "data": {"name": f"P{n}"}}


async def post_emails(
    ports: Sequence[int],
    count: int,
    *,
    key_prefix: str,
    concurrency: int = 8,
    give_up_after: float = 120.0,
    on_accepted: Callable[[int], None] | None = None,
) -> LoadReport:
    """POST ``count`` e-mail commands across ``ports`` until each is accepted (202)."""
    report = LoadReport()
    numbers = iter(range(count))
    accepted = itertools.count(1)
    deadline = time.monotonic() + give_up_after

    async def one(client: httpx.AsyncClient, n: int) -> None:
        key = f"{key_prefix}-{n}"
        port = ports[n % len(ports)]
        while True:
            if time.monotonic() > deadline:
                raise AssertionError(f"command {key} was not accepted in {give_up_after} s")
            try:
                response = await client.post(
                    f"http://127.0.0.1:{port}/api/v1/notifications/email",
                    json=email_command(n),
                    headers={**ADMIN, "Idempotency-Key": key},
                )
            except httpx.TransportError:
                report.connection_errors += 1
                await asyncio.sleep(RETRY_PAUSE_SECONDS)
                continue
            report.statuses[response.status_code] += 1
            if response.status_code == 202:
                report.jobs_by_key[key].add(response.json()["jobId"])
                if on_accepted is not None:
                    on_accepted(next(accepted))
                return
            if response.status_code != 503:
                raise AssertionError(f"{key}: {response.status_code} {response.text[:300]}")
            await asyncio.sleep(RETRY_PAUSE_SECONDS)

    async def client_loop() -> None:
        async with httpx.AsyncClient(timeout=30) as client:
            for n in numbers:
                await one(client, n)

    await asyncio.gather(*(client_loop() for _ in range(concurrency)))
    return report


def deliveries(handler: RecordingHandler) -> collections.Counter[str]:
    """How many times the SMTP server accepted each Message-ID."""
    return collections.Counter(str(m.parsed["Message-ID"]) for m in list(handler.messages))
