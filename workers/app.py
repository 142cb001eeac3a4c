"""The module ``dramatiq workers.app`` loads: settings first, then the broker, then actors."""

from __future__ import annotations

import dramatiq
from dramatiq.middleware import AsyncIO, CurrentMessage, default_middleware

from domain.adapters.jobs.messaging import build_broker
from domain.logging import configure_logging
from domain.settings import load_settings
from workers.actors import declare_actors
from workers.runtime import WorkerRuntime

settings = load_settings()
configure_logging(settings.log_level, settings.log_format)
runtime = WorkerRuntime(settings)
broker = build_broker(
    settings.redis_url,
    middleware=[m() for m in default_middleware] + [AsyncIO(), CurrentMessage(), runtime],
)
dramatiq.set_broker(broker)
actors = declare_actors(broker, runtime)
