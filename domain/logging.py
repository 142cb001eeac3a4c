"""Structured logs with request/job context; values that might be PHI are never logged.

JSON for machines, structlog's console lines for a person: LOG_FORMAT chooses,
and when it is unset a process logs console lines if its stderr is a terminal
and JSON otherwise (a pipe, a file, a log collector). The launcher, whose
processes write into its pipes, sets LOG_FORMAT=console for them when its own
output is a terminal.

Call sites log ids, kinds, codes and counts only. As a second line of
defence, exception messages are dropped from log records: a driver or SMTP
error text can quote an address or a row, so only the exception's type and
stack frames are kept.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from typing import Any

import structlog


def exception_fields(exc: BaseException) -> dict[str, Any]:
    """What may be logged about an exception: its type and where it happened, not its text."""
    frames = traceback.extract_tb(exc.__traceback__)
    return {
        "error_type": type(exc).__name__,
        "error_at": [f"{frame.filename}:{frame.lineno} in {frame.name}" for frame in frames[-8:]],
    }


def _drop_exception_text(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    exc_info = event.pop("exc_info", None)
    if exc_info:
        exc = exc_info if isinstance(exc_info, BaseException) else sys.exc_info()[1]
        if exc is not None:
            event.update(exception_fields(exc))
    return event


def stderr_is_terminal() -> bool:
    """Whether file descriptor 2 is a terminal. Asked of the descriptor, not ``sys.stderr``:
    a Dramatiq worker process writes through a pipe object that its main process copies to
    this same descriptor."""
    return os.isatty(2)


def configure_logging(level: str = "INFO", fmt: str | None = None) -> None:
    """``fmt``: json or console; None chooses by the terminal (``stderr_is_terminal``)."""
    if fmt is None:
        fmt = "console" if stderr_is_terminal() else "json"
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _drop_exception_text,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(
        level=level.upper(), stream=sys.stderr, format="%(levelname)s %(name)s %(message)s"
    )
    # psycopg_pool warns at every failed reconnection (each second or so while the database is
    # away); our processes say once that they wait for it and once that it is back instead.
    logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
