"""The module ``dramatiq workers.app`` loads: settings first, then the broker, then actors."""

from __future__ import annotations

import dramatiq
from dramatiq.middleware import AsyncIO

from domain.adapters.jobs.messaging import build_broker
from domain.adapters.settings_check import settings_or_exit
from domain.logging import configure_logging
from workers.actors import declare_actors
from workers.runtime import WorkerRuntime

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
actors = declare_actors(broker, runtime)
