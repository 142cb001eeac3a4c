"""Processes die at the worst moment; the job still completes, and its side effect happens once."""

from __future__ import annotations

import asyncio
import threading
import uuid
from pathlib import Path

import httpx
import msgspec
import pytest
import redis

from domain.auditing import SYSTEM
from domain.jobs.model import JobStatus
from domain.notifications.email import SendEmail, submit_email
from tests.support.api import ADMIN
from tests.support.jobs import async_wait_until
from tests.support.platform import wired
from tests.support.processes import start_api, start_scheduler, start_worker
from tests.support.servers import free_port
from tests.support.smtp import RecordingHandler, running_smtp_server

pytestmark = pytest.mark.slow

WELCOME = SendEmail(to="new.patient@example.org", template="welcome", data={"name": "Sokha"})


class StallsOnFirstRecipient(RecordingHandler):
    """Holds the first delivery at RCPT (before any content is accepted) long enough to kill it."""

    def __init__(self) -> None:
        super().__init__()
        self.stalled = threading.Event()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if not self.stalled.is_set():
            self.stalled.set()
            await asyncio.sleep(60)
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)


def job_status(services, job_id):
    async def check():
        job = await services.store.get(job_id)
        return job.status is JobStatus.SUCCEEDED

    return check


async def test_worker_killed_mid_job_completes_after_recovery_and_sends_once(
    services, settings, processes, log_dir
) -> None:
    handler = StallsOnFirstRecipient()
    with running_smtp_server(handler) as smtp:
        configured = msgspec.structs.replace(settings, smtp_url=smtp.url)
        submission = await wired(services).run(
            submit_email,
            WELCOME,
            owner_id="admin-1",
            idempotency_key=None,
            message_id_domain="healthplat.test",
            audit=SYSTEM,
        )
        job = submission.job

        first = start_worker(configured, log_dir)
        processes.append(first)
        assert await asyncio.to_thread(handler.stalled.wait, 30), first.output()[-2000:]
        assert (await services.store.get(job.id)).status is JobStatus.RUNNING
        first.kill()  # SIGKILL to the whole worker group, mid-delivery

        processes.append(start_worker(configured, log_dir))
        processes.append(start_scheduler(configured, log_dir))
        await async_wait_until(job_status(services, job.id), timeout=60)

        done = await services.store.get(job.id)
        assert done.attempts == 2
        events = await services.store.events(job.id)
        assert any(e.error and e.error.code == "worker_lost" for e in events)
        delivered = [m for m in smtp.messages if m.parsed["Message-ID"] == done.result["messageId"]]
        assert len(delivered) == 1


async def test_api_dying_between_commit_and_send_loses_no_job(
    services, settings, processes, log_dir
) -> None:
    """The API commits the job, its send to Redis never happens, and the process is killed.

    Its REDIS_URL points at a port where nothing listens, so the message is
    never sent; the relay must find the committed row and send it.
    """
    port = free_port()
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    api = start_api(settings, log_dir, port, REDIS_URL=dead_redis)
    processes.append(api)
    response = httpx.post(
        f"http://127.0.0.1:{port}/api/v1/notifications/email",
        json=msgspec.to_builtins(WELCOME),
        headers={**ADMIN, "Idempotency-Key": "welcome-once"},
        timeout=30,
    )
    assert response.status_code == 202, response.text
    job_id = response.json()["jobId"]
    api.kill()
    assert redis.Redis.from_url(settings.redis_url).dbsize() == 0  # nothing was sent

    processes.append(start_worker(settings, log_dir))
    processes.append(start_scheduler(settings, log_dir))
    await async_wait_until(job_status(services, uuid.UUID(job_id)), timeout=60)
    done = await services.store.get(uuid.UUID(job_id))
    outbox = Path(settings.data_dir) / "outbox"
    assert done.result["transport"] == "outbox"
    assert len(list(outbox.glob("*.eml"))) == 1
