"""The module ``dramatiq workers.app`` loads: settings first, then the broker, then actors."""

from __future__ import annotations

import asyncio

import dramatiq
import uvloop
from dramatiq.middleware import AsyncIO

from domain.adapters.jobs.messaging import build_broker
from domain.adapters.settings_check import settings_or_exit
from domain.logging import configure_logging
from workers.actors import declare_actors
from workers.runtime import WorkerRuntime

# Every worker process's event loop (Dramatiq's AsyncIO middleware makes it) is uvloop's,
# as the API's: the loop runs every attempt (workers/attempts.py), and with uvloop the
# pool's CPU per job was lower in each of 4 interleaved bench.throughput runs (0.27-0.43
# against 0.33-0.55 ms).
asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
settings = settings_or_exit()  # a bad setting: one line each and exit 2, no traceback
configure_logging(settings.log_level, settings.log_format)
runtime = WorkerRuntime(settings)
broker = build_broker(
    settings.redis_url,
    # Retries and time limits are the lifecycle's (workers/actors.py); none of Dramatiq's
    # other default middleware (age limits, callbacks, pipelines) has a use here.
    middleware=[AsyncIO(), runtime],
)
dramatiq.set_broker(broker)
actors = declare_actors(broker)
