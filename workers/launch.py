"""``healthplat``: the platform's one run command.

It resolves what the processes need and leaves nothing to set up by hand on a
fresh machine. First every setting is checked (workers/launcher/preflight.py):
one bad setting, or several, and it says which and what each must be, exits
with 2 and starts nothing. Then, for each of DATABASE_URL and REDIS_URL that
the environment leaves unset, it starts an embedded server under DATA_DIR
(workers/launcher/services.py); it keeps a JWT secret, a PHI keyring, a
Stellar key and a metrics token in DATA_DIR for those settings left unset
(workers/launcher/kept_secrets.py); it applies the migrations and seals the
accounts stored before names and addresses were sealed
(workers/launcher/account_sealing.py), then runs the Procfile's processes
with that environment and supervises them
(workers/launcher/processes.py, supervisor.py). The embedded servers are
stopped here on the way out, because pgserver's own stop does not fire after
a killed process.

Its own lines go to stderr as plain text; it never prints a secret (a
password in a URL is masked, secrets are shown only as the files they are in).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from domain.adapters.settings_check import BAD_SETTINGS_EXIT
from domain.setting_values import redact_url
from domain.settings import SettingsError
from workers.launcher.account_sealing import seal_stored_accounts
from workers.launcher.console import LaunchError, say
from workers.launcher.data_dir import lock_data_dir, make_data_dir
from workers.launcher.kept_secrets import resolve_kept_secrets
from workers.launcher.migrations import migrate
from workers.launcher.preflight import LaunchSettings, read_launch_settings
from workers.launcher.processes import choose_processes, print_env, process_env, run_processes
from workers.launcher.project import find_project_file
from workers.launcher.services import start_embedded_postgres, start_embedded_redis
from workers.launcher.signals import SignalLatch, Stopped


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="healthplat",
        description=(
            "Run the platform: embedded PostgreSQL/Redis under DATA_DIR for whatever "
            "DATABASE_URL/REDIS_URL leave unset, migrations, then the Procfile's processes. "
            "Every setting is checked first: a bad one stops the launch with exit status 2."
        ),
    )
    parser.add_argument(
        "processes", nargs="*", metavar="PROCESS", help="Procfile entries to run (default: all)"
    )
    parser.add_argument(
        "--only-services",
        action="store_true",
        help="start the embedded services and migrate, print the environment to use, "
        "then wait (Ctrl-C stops the services)",
    )
    parser.add_argument(
        "--procfile", type=Path, default=None, help="default: ./Procfile, else the project's"
    )
    return parser.parse_args(argv)


@dataclass(frozen=True)
class Plan:
    """What a launch will do, known to be possible before anything starts."""

    settings: LaunchSettings
    commands: dict[str, str]  # the Procfile's processes to run; none with --only-services
    procfile: Path


def preflight(args: argparse.Namespace, base: dict[str, str]) -> tuple[Plan | None, list[str]]:
    """The launch's plan, or every problem with its settings and arguments (one line each);
    nothing is started or written."""
    problems: list[str] = []
    settings: LaunchSettings | None = None
    try:
        settings = read_launch_settings(base, terminal=sys.stdout.isatty())
    except SettingsError as exc:
        problems.extend(exc.problems)
    commands: dict[str, str] = {}
    procfile = Path()
    if not args.only_services:
        try:
            procfile = args.procfile or find_project_file("Procfile")
            commands = choose_processes(procfile, args.processes)
        except LaunchError as exc:
            problems.append(str(exc))
    if settings is None or problems:
        return None, problems
    return Plan(settings, commands, procfile), []


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    base = dict(os.environ)
    plan, problems = preflight(args, base)
    if plan is None:
        for problem in problems:
            say(f"cannot start: {problem}")
        return BAD_SETTINGS_EXIT
    launch = plan.settings
    latch = SignalLatch()
    latch.install()
    code = 0
    stack = ExitStack()
    try:
        with stack:
            data_dir = make_data_dir(launch.data_dir)
            stack.enter_context(lock_data_dir(data_dir))
            say(f"DATA_DIR is {data_dir}")

            database_url = base.get("DATABASE_URL") or ""
            if database_url:
                say(f"PostgreSQL: DATABASE_URL from the environment ({redact_url(database_url)})")
            else:
                database_url = start_embedded_postgres(data_dir, stack)
            latch.check()

            redis_url = base.get("REDIS_URL") or ""
            if redis_url:
                say(f"Redis: REDIS_URL from the environment ({redact_url(redis_url)})")
            else:
                redis_url = start_embedded_redis(data_dir, launch.embedded_redis_port, stack)
            latch.check()

            kept = resolve_kept_secrets(base, data_dir)
            migrate(database_url)
            latch.check()

            env = process_env(
                base,
                data_dir=data_dir,
                database_url=database_url,
                redis_url=redis_url,
                secrets_kept=kept,
                port=launch.port,
                host=launch.host,
                terminal=launch.terminal,
            )
            seal_stored_accounts(env)
            latch.check()
            if args.only_services:
                print_env(data_dir, env, base)
                say("services are up; press Ctrl-C (or send SIGTERM) to stop them")
                while latch.received is None:
                    time.sleep(0.2)
                code = 128 + latch.received
            else:
                if "web" in plan.commands:
                    say(f"web will listen on http://{env['HOST']}:{env['PORT']}")
                code = run_processes(
                    plan.commands, plan.procfile, env, launch.stop_timeout_seconds, latch
                )
                say(f"processes stopped (exit code {code})")
    except Stopped as stopped:
        code = 128 + stopped.signum
    except LaunchError as exc:
        say(f"cannot start: {exc}")
        code = 1
    except Exception as exc:
        if latch.received is not None:
            # e.g. initdb, in our process group, also got the terminal's Ctrl-C and gave up
            say(f"start-up interrupted ({type(exc).__name__})")
            code = 128 + latch.received
        else:
            first_line = str(exc).splitlines()[0] if str(exc) else ""
            say(f"failed: {type(exc).__name__}: {first_line}")
            code = 1
    say(f"exit {code}")
    return code


if __name__ == "__main__":
    sys.exit(main())
