"""The process's resources live exactly as long as the app is serving.

Nothing is opened at import or in ``create_app``: the pool must be opened on
the event loop that serves requests, and a test or a ``--factory`` import
must not need a database to build the app.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar

from domain.adapters.bootstrap import broker_for, build_services
from domain.logging import configure_logging
from domain.settings import Settings
from domain.wiring import Wired


@asynccontextmanager
async def services_lifespan(app: Litestar) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    configure_logging(settings.log_level, settings.log_format)
    # uvicorn's access log prints the raw path and query string; ours prints the route.
    logging.getLogger("uvicorn.access").disabled = True
    broker = broker_for(settings)
    services = build_services(settings, broker)
    try:
        await services.open()
        app.state.services = services
        app.state.use_cases = Wired(services.dependencies())
        yield
    finally:
        app.state.pop("use_cases", None)
        app.state.pop("services", None)
        await services.close()
        broker.client.close()
