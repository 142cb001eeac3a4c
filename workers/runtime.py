"""The worker process's resources, opened on Dramatiq's event loop and closed on shutdown.

A psycopg pool must be created and opened on the loop that uses it; in a
Dramatiq worker that loop belongs to the AsyncIO middleware and exists only
after it has booted, so this middleware must come after AsyncIO in the
broker's list (SERVICES.md: opening at import fails, opening after boot races
the worker threads).
"""

from __future__ import annotations

import dramatiq
import structlog
from dramatiq.asyncio import EventLoopThread, get_event_loop_thread

from domain.adapters.bootstrap import Services, build_services
from domain.catalogue import JOB_KINDS
from domain.jobs.model import JobKind
from domain.settings import Settings
from workers.attempts import LoopAttempts
from workers.handlers import BoundHandler, bound_handlers
from workers.lifecycle import LifecycleRunner

log = structlog.get_logger(__name__)


def event_loop_thread() -> EventLoopThread:
    """The AsyncIO middleware's loop, on which every coroutine of a worker process runs."""
    loop_thread = get_event_loop_thread()
    if loop_thread is None:
        raise RuntimeError("the AsyncIO middleware must come before WorkerRuntime")
    return loop_thread


class WorkerRuntime(dramatiq.Middleware):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._services: Services | None = None
        self._attempts: LoopAttempts | None = None
        self._handlers: dict[str, BoundHandler] = {}

    @property
    def services(self) -> Services:
        if self._services is None:
            raise RuntimeError("the worker runtime has not booted")
        return self._services

    @property
    def attempts(self) -> LoopAttempts:
        if self._attempts is None:
            raise RuntimeError("the worker runtime has not booted")
        return self._attempts

    def handler(self, kind: JobKind) -> BoundHandler:
        try:
            return self._handlers[kind.name]
        except KeyError:
            raise RuntimeError("the worker runtime has not booted") from None

    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        services = build_services(self.settings, broker)  # type: ignore[arg-type]
        event_loop_thread().run_coroutine(services.open())
        self._services = services
        self._handlers = bound_handlers(services)
        runner = LifecycleRunner(
            services.store,
            services.sender,
            services.clock,
            heartbeat_seconds=self.settings.job_heartbeat_seconds,
            stale_after_seconds=self.settings.job_stale_after_seconds,
        )
        loop = event_loop_thread().loop
        attempts = LoopAttempts(loop, runner, self.handler, slots=worker.worker_threads)
        self._attempts = attempts
        kinds = {kind.actor_name: kind for kind in JOB_KINDS.values()}
        broker.start_directly(  # type: ignore[attr-defined]
            kinds, lambda starts: attempts.begin_many([(kinds[a], job) for a, job in starts])
        )
        log.info(
            "worker_process_ready",
            handlers_at_once=worker.worker_threads,
            event_loop=f"{type(loop).__module__}.{type(loop).__qualname__}",
        )

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        if self._attempts is not None:
            self._attempts.stop_starting()

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        loop_thread = get_event_loop_thread()
        if self._services is not None and loop_thread is not None:
            loop_thread.run_coroutine(self._services.close())
        self._services = None
