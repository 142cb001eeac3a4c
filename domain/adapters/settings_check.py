"""Every refusal a process would meet at start, found before it starts.

``load_settings`` reads the environment, but a few settings are parsed only
by the adapter that uses them: DATABASE_URL by psycopg, REDIS_URL by
redis-py, SMTP_URL by the mailer, STELLAR_SECRET_KEY by the ledger. A bad
value there used to surface as a traceback from a process already running.
Here each is parsed up front by that same adapter code, and the problems join
load_settings' own. The launcher checks its processes' environment with
``settings_problems`` before starting anything; a process started on its own
(uvicorn, dramatiq, the scheduler) takes its settings from ``settings_or_exit``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping

from domain.adapters.anchoring.stellar_ledger import stellar_keypair
from domain.adapters.jobs.messaging import check_redis_url
from domain.adapters.notifications.mailers import parse_smtp_url
from domain.adapters.postgres import check_database_url
from domain.setting_values import Refusals
from domain.settings import Settings, SettingsError, load_settings

BAD_SETTINGS_EXIT = 2  # as a command-line usage error: nothing was started

ADAPTER_PARSERS: tuple[tuple[str, Callable[[str], object]], ...] = (
    ("DATABASE_URL", check_database_url),
    ("REDIS_URL", check_redis_url),
    ("SMTP_URL", parse_smtp_url),
    ("STELLAR_SECRET_KEY", stellar_keypair),
)


def settings_problems(env: Mapping[str, str]) -> list[str]:
    """One line per bad setting of ``env`` (empty if a process could start with it)."""
    read = Refusals(env)
    try:
        load_settings(env)
    except SettingsError as exc:
        read.problems.extend(exc.problems)
    for name, parse in ADAPTER_PARSERS:
        read.parsed(name, parse)
    return read.problems


def settings_or_exit(environ: Mapping[str, str] | None = None) -> Settings:
    """A process's settings; if any is bad, one ``cannot start:`` line each on stderr and exit
    status 2, with no traceback (it would say nothing more and bury the lines)."""
    env = os.environ if environ is None else environ
    problems = settings_problems(env)
    if problems:
        for problem in problems:
            print(f"cannot start: {problem}", file=sys.stderr, flush=True)
        raise SystemExit(BAD_SETTINGS_EXIT)
    return load_settings(env)
