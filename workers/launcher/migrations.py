"""The launcher's migration step: ``alembic upgrade head``, its lines in the launcher's voice."""

from __future__ import annotations

import logging
import sys

from workers.launcher.console import say
from workers.launcher.project import find_project_file


def migrate(database_url: str) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config(toml_file=str(find_project_file("pyproject.toml")))
    config.attributes["database_url"] = database_url
    alembic_log = logging.getLogger("alembic")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s launch | %(message)s", "%H:%M:%S"))
    alembic_log.addHandler(handler)
    alembic_log.setLevel(logging.INFO)
    say("applying migrations (alembic upgrade head)")
    try:
        command.upgrade(config, "head")
    finally:
        alembic_log.removeHandler(handler)
    say("migrations applied")
