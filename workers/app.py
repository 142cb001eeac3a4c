"""The module ``dramatiq workers.app`` loads: settings first, then the broker, then actors."""

from __future__ import annotations

import dramatiq
from dramatiq.middleware import AsyncIO, CurrentMessage, default_middleware

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
    middleware=[m() for m in default_middleware] + [AsyncIO(), CurrentMessage(), runtime],
)
dramatiq.set_broker(broker)
actors = declare_actors(broker, runtime)
