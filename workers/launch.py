"""``healthplat``: the platform's one run command.

It resolves what the processes need and leaves nothing to set up by hand on a
fresh machine: for each of DATABASE_URL and REDIS_URL that the environment
leaves unset it starts an embedded server under DATA_DIR; it keeps a JWT
secret, a PHI keyring, a Stellar key and a metrics token in DATA_DIR when
JWT_SECRET / PHI_KEYS / STELLAR_SECRET_KEY / METRICS_TOKEN are not given
(KEPT_SECRETS); it applies the migrations, seals the accounts stored before
names and addresses were sealed (domain/account_sealing.py), then runs the Procfile's
processes with that environment (workers/supervisor.py: honcho's Procfile format and output,
safer stopping). The embedded servers are stopped here on the way out,
because pgserver's own stop does not fire after a killed process.

Its own lines go to stderr as plain text; it never prints a secret (a
password in a URL is masked, secrets are shown only as the files they are in).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import logging
import os
import secrets
import signal
import socket
import sys
import time
import warnings
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit, urlunsplit

from domain.settings import MIN_SECRET_LENGTH
from workers.embedded import EmbeddedPostgres, EmbeddedRedis

PROJECT_ROOT = Path(__file__).resolve().parents[1]
EMBEDDED_DATABASE = "healthplat"
EMBEDDED_REDIS_PORT = 6380
DEFAULT_DATA_DIR = ".data"
DEFAULT_PORT = "8000"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_STOP_TIMEOUT_SECONDS = 20.0
SECRET_FILE = "jwt_secret"
KEYRING_FILE = "phi_keys"
STELLAR_KEY_FILE = "stellar_secret_key"
METRICS_TOKEN_FILE = "metrics_token"
FIRST_PHI_KEY_ID = "k1"
LOCK_FILE = "launcher.lock"


class LaunchError(RuntimeError):
    """Raised when the platform cannot be started as configured; the message says why."""


class Stopped(Exception):
    """Raised between start-up steps once SIGINT or SIGTERM has arrived."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def say(message: str) -> None:
    stamp = time.strftime("%H:%M:%S")
    print(f"{stamp} launch | {message}", file=sys.stderr, flush=True)


def redact(url: str) -> str:
    """The URL with any password replaced, safe to log."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{hostport}"))


class SignalLatch:
    """Remembers SIGINT/SIGTERM during start-up, so no step is cut in half.

    A step interrupted midway (pg_ctl start, a migration) could leave a server
    running that nobody stops; the latch lets the step finish, then
    ``check`` raises and the normal unwinding stops what was started.
    """

    def __init__(self) -> None:
        self.received: int | None = None

    def install(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._note)

    def _note(self, signum: int, _frame: object) -> None:
        name = signal.Signals(signum).name
        if self.received is None:
            self.received = signum
            say(f"{name} received: stopping")
        else:
            say(f"{name} received again: still stopping, please wait")

    def check(self) -> None:
        if self.received is not None:
            raise Stopped(self.received)


# --- DATA_DIR, its lock and the JWT secret ----------------------------------


def resolve_data_dir(env: Mapping[str, str]) -> Path:
    data_dir = Path(env.get("DATA_DIR") or DEFAULT_DATA_DIR).expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    return data_dir


def lock_data_dir(data_dir: Path) -> IO[str]:
    """Hold an exclusive lock on DATA_DIR: two launchers must not share embedded servers."""
    handle = open(data_dir / LOCK_FILE, "a")  # noqa: SIM115 - held until the process exits
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise LaunchError(f"another healthplat is already running on {data_dir}") from None
    return handle


def _read_kept(path: Path) -> str:
    """A value kept in ``path``, or "" if there is none; the file is kept at mode 0600."""
    try:
        value = path.read_text().strip()
    except FileNotFoundError:
        return ""
    if value and path.stat().st_mode & 0o077:
        path.chmod(0o600)
    return value


def _keep(path: Path, value: str) -> None:
    """Write ``value`` to ``path`` (mode 0600 from the start), whole or not at all."""
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(value + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)


def load_or_create_secret(path: Path) -> tuple[str, bool]:
    """A random secret (the JWT secret, the metrics token) kept in ``path``, made on first use;
    True if it was just made."""
    secret = _read_kept(path)
    if secret:
        if len(secret) < MIN_SECRET_LENGTH:
            raise LaunchError(
                f"{path} holds fewer than {MIN_SECRET_LENGTH} characters; "
                "remove it to get a new one"
            )
        return secret, False
    secret = secrets.token_urlsafe(48)
    _keep(path, secret)
    return secret, True


def load_or_create_keyring(path: Path) -> tuple[str, bool]:
    """The PHI keyring (PHI_KEYS format) kept in ``path``, made on first use.

    Losing it makes every sealed PHI value unreadable, so an existing file is
    never replaced: a malformed one stops the launch instead.
    """
    from domain.settings import parse_keyring

    keyring = _read_kept(path)
    if keyring:
        try:
            parse_keyring(keyring)
        except ValueError as exc:
            raise LaunchError(f"{path} is not a valid PHI keyring ({exc})") from None
        return keyring, False
    keyring = f"{FIRST_PHI_KEY_ID}:{base64.b64encode(os.urandom(32)).decode()}"
    _keep(path, keyring)
    return keyring, True


def load_or_create_stellar_key(path: Path) -> tuple[str, bool]:
    """The anchoring account's secret seed kept in ``path``, made on first use.

    A new key is an account nobody funded yet: anchoring keeps transactions
    signed, not submitted, until a Horizon is configured (and the account funded).
    """
    from stellar_sdk import Keypair

    seed = _read_kept(path)
    if seed:
        try:
            Keypair.from_secret(seed)
        except Exception:
            raise LaunchError(f"{path} does not hold a Stellar secret seed") from None
        return seed, False
    seed = Keypair.random().secret
    _keep(path, seed)
    return seed, True


# What the launcher keeps under DATA_DIR when the environment leaves it unset:
# (setting, file, load or make it, what the operator should know of the file).
KEPT_SECRETS: tuple[tuple[str, str, Callable[[Path], tuple[str, bool]], str], ...] = (
    ("JWT_SECRET", SECRET_FILE, load_or_create_secret, ""),
    ("PHI_KEYS", KEYRING_FILE, load_or_create_keyring, "; back it up"),
    ("STELLAR_SECRET_KEY", STELLAR_KEY_FILE, load_or_create_stellar_key, ""),
    ("METRICS_TOKEN", METRICS_TOKEN_FILE, load_or_create_secret, "; give it to Prometheus"),
)


def kept_secret(
    base: Mapping[str, str],
    name: str,
    path: Path,
    load_or_create: Callable[[Path], tuple[str, bool]],
    note: str,
) -> str:
    """``name`` from the environment, else the value kept in ``path`` (made on first use)."""
    value = base.get(name) or ""
    if value:
        say(f"{name}: from the environment")
        return value
    value, made = load_or_create(path)
    state = "generated and saved in" if made else "read from"
    say(f"{name}: {state} {path} (mode 0600{note})")
    return value


# --- embedded servers -------------------------------------------------------


def url_with_database(url: str, name: str) -> str:
    """``url`` (a postgresql:// URL, e.g. pgserver's socket URI) pointing at database ``name``."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def ensure_database(admin_url: str, name: str) -> bool:
    """Create database ``name`` unless it exists; True if it was created."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if found:
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return True


def start_embedded_postgres(data_dir: Path, stack: ExitStack) -> str:
    directory = data_dir / "postgres"
    server = EmbeddedPostgres(directory)
    if os.geteuid() == 0:
        say(
            "running as root: pgserver runs PostgreSQL as the system user 'pgserver' "
            f"(created if missing), owning {directory}, and adds read/execute for others "
            "on the folders above it and above the venv"
        )
    say(f"starting embedded PostgreSQL in {directory}")
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (su, cron, CI); pgserver copes.
        warnings.simplefilter("ignore")
        admin_url = server.start()
    stack.callback(_stop_postgres, server)
    created = ensure_database(admin_url, EMBEDDED_DATABASE)
    verb = "created" if created else "found"
    say(f"embedded PostgreSQL is up; database '{EMBEDDED_DATABASE}' {verb}")
    return url_with_database(admin_url, EMBEDDED_DATABASE)


def _stop_postgres(server: EmbeddedPostgres) -> None:
    say("stopping embedded PostgreSQL")
    server.stop()
    say("embedded PostgreSQL stopped")


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def choose_redis_port(env: Mapping[str, str]) -> int:
    """EMBEDDED_REDIS_PORT if set (it must be free); else 6380 if free; else any free port."""
    wanted = env.get("EMBEDDED_REDIS_PORT")
    if wanted:
        try:
            port = int(wanted)
        except ValueError:
            raise LaunchError("EMBEDDED_REDIS_PORT must be a port number") from None
        if not port_is_free(port):
            raise LaunchError(f"EMBEDDED_REDIS_PORT {port} is already in use on 127.0.0.1")
        return port
    if port_is_free(EMBEDDED_REDIS_PORT):
        return EMBEDDED_REDIS_PORT
    port = free_port()
    say(f"port {EMBEDDED_REDIS_PORT} is taken; embedded Redis will use port {port}")
    return port


def stop_stale_redis(directory: Path) -> None:
    """Stop a Redis left running by a launcher that was killed (its pidfile is still there).

    We hold DATA_DIR's lock, so a live redis-server serving this folder is
    nobody else's. The pid is trusted only if /proc confirms it is redis-server.
    """
    pidfile = directory / "redis.pid"
    try:
        pid = int(pidfile.read_text().strip())
    except (FileNotFoundError, ValueError):
        return
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        cmdline = b""
    if b"redis-server" in cmdline:
        say(f"stopping a stale embedded Redis (pid {pid}) left by an earlier run")
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.05)
    pidfile.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie, waiting for its parent to reap it, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def start_embedded_redis(data_dir: Path, env: Mapping[str, str], stack: ExitStack) -> str:
    directory = data_dir / "redis"
    stop_stale_redis(directory)
    server = EmbeddedRedis(directory, port=choose_redis_port(env))
    say(f"starting embedded Redis on 127.0.0.1:{server.port} (data folder {directory})")
    stack.callback(_stop_redis, server)
    url = server.start()
    say("embedded Redis is up")
    return url


def _stop_redis(server: EmbeddedRedis) -> None:
    say("stopping embedded Redis")
    server.stop()
    say("embedded Redis stopped")


# --- migrations and processes -----------------------------------------------


def find_project_file(name: str) -> Path:
    """``name`` in the current folder, else in the source tree this module came from."""
    for folder in (Path.cwd(), PROJECT_ROOT):
        candidate = folder / name
        if candidate.is_file():
            return candidate
    raise LaunchError(f"{name} not found in {Path.cwd()} or {PROJECT_ROOT}")


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


def seal_stored_accounts(env: Mapping[str, str]) -> None:
    """Seal the names and addresses of accounts stored in the clear (before revision 0008),
    with the keys the processes get, before any process starts. Idempotent: on later
    starts it finds nothing to do and says nothing."""
    import asyncio

    from domain.account_sealing import SealingReport, seal_accounts
    from domain.adapters.bootstrap import one_shot_units_of_work
    from domain.audit import SYSTEM
    from domain.settings import SettingsError, load_settings

    try:
        settings = load_settings(env)
    except SettingsError as exc:
        raise LaunchError(str(exc)) from None

    async def run() -> SealingReport:
        async with one_shot_units_of_work(settings) as units:
            return await seal_accounts(units, SYSTEM)

    report = asyncio.run(run())
    if report.sealed:
        say(f"sealed the name and e-mail address of {report.sealed} account(s) stored in the clear")
    if not report.done:
        say(
            f"{report.left} account(s) still hold a name or e-mail address in the clear; "
            "they sign in as before: run `healthplat-admin seal-accounts` to finish"
        )


def venv_bin() -> Path:
    return Path(sys.executable).parent


def process_env(
    base: Mapping[str, str],
    data_dir: Path,
    database_url: str,
    redis_url: str,
    secrets_kept: Mapping[str, str],
) -> dict[str, str]:
    """The processes' environment: the caller's, plus what the launcher resolved."""
    env = dict(base)
    env.update(secrets_kept)
    env.update(
        DATA_DIR=str(data_dir),
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        PORT=base.get("PORT") or DEFAULT_PORT,
        HOST=base.get("HOST") or DEFAULT_HOST,
        PYTHONUNBUFFERED="1",
    )
    path = base.get("PATH") or os.defpath
    env["PATH"] = f"{venv_bin()}{os.pathsep}{path}"
    return env


def stop_timeout(env: Mapping[str, str]) -> float:
    value = env.get("STOP_TIMEOUT_SECONDS")
    if not value:
        return DEFAULT_STOP_TIMEOUT_SECONDS
    try:
        seconds = float(value)
    except ValueError:
        raise LaunchError("STOP_TIMEOUT_SECONDS must be a number") from None
    if seconds <= 0:
        raise LaunchError("STOP_TIMEOUT_SECONDS must be positive")
    return seconds


def run_procfile(
    procfile: Path, env: dict[str, str], names: list[str], kill_wait: float, latch: SignalLatch
) -> int:
    """Run the Procfile's processes (or those named) until a signal, or a crash loop, stops them.

    Each line runs through ``sh -c`` (so ${VAR:-default} works) in a session
    of its own; a process that exits is restarted with backoff; on SIGINT/SIGTERM,
    or when one process keeps crashing, each remaining program gets SIGTERM, and its
    process group SIGKILL ``kill_wait`` seconds later. See workers/supervisor.py for
    why this is not honcho's manager.
    """
    from workers.supervisor import Supervisor, read_procfile

    processes = read_procfile(procfile)
    if not processes:
        raise LaunchError(f"{procfile} declares no process")
    unknown = [name for name in names if name not in processes]
    if unknown:
        raise LaunchError(f"not in {procfile.name}: {', '.join(unknown)}")
    chosen = {name: cmd for name, cmd in processes.items() if not names or name in names}

    say(f"starting {', '.join(chosen)} from {procfile}")
    supervisor = Supervisor(lambda: latch.received, kill_wait)
    supervisor.start(chosen, env, procfile.parent)
    return supervisor.run()


def print_env(data_dir: Path, env: Mapping[str, str], base: Mapping[str, str]) -> None:
    """The exports for running processes by hand.

    Only what the launcher resolved itself is printed: a URL from the caller's
    environment may hold a password, and the secret appears as its file.
    """
    lines = [
        "# run processes by hand with this environment (e.g. paste into another shell):",
        f"export DATA_DIR='{data_dir}'",
    ]
    for name in ("DATABASE_URL", "REDIS_URL"):
        if base.get(name):
            lines.append(f"# {name}: keep the value you already have in your environment")
        else:
            lines.append(f"export {name}='{env[name]}'")
    for name, file_name, _, _ in KEPT_SECRETS:
        if base.get(name):
            lines.append(f"# {name}: keep the value you already have in your environment")
        else:
            lines.append(f"export {name}=\"$(cat '{data_dir / file_name}')\"")
    print("\n".join(lines), flush=True)


# --- the command ------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="healthplat",
        description=(
            "Run the platform: embedded PostgreSQL/Redis under DATA_DIR for whatever "
            "DATABASE_URL/REDIS_URL leave unset, migrations, then the Procfile's processes."
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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    latch = SignalLatch()
    latch.install()
    base = dict(os.environ)
    code = 0
    stack = ExitStack()
    try:
        with stack:
            data_dir = resolve_data_dir(base)
            stack.enter_context(lock_data_dir(data_dir))
            say(f"DATA_DIR is {data_dir}")
            kill_wait = stop_timeout(base)
            procfile = args.procfile or find_project_file("Procfile")

            database_url = base.get("DATABASE_URL") or ""
            if database_url:
                say(f"PostgreSQL: DATABASE_URL from the environment ({redact(database_url)})")
            else:
                database_url = start_embedded_postgres(data_dir, stack)
            latch.check()

            redis_url = base.get("REDIS_URL") or ""
            if redis_url:
                say(f"Redis: REDIS_URL from the environment ({redact(redis_url)})")
            else:
                redis_url = start_embedded_redis(data_dir, base, stack)
            latch.check()

            for name in ("JWT_SECRET", "METRICS_TOKEN"):
                if 0 < len(base.get(name) or "") < MIN_SECRET_LENGTH:
                    raise LaunchError(f"{name} must be at least {MIN_SECRET_LENGTH} characters")
            kept = {
                name: kept_secret(base, name, data_dir / file_name, load_or_create, note)
                for name, file_name, load_or_create, note in KEPT_SECRETS
            }

            migrate(database_url)
            latch.check()

            env = process_env(base, data_dir, database_url, redis_url, kept)
            seal_stored_accounts(env)
            latch.check()
            if args.only_services:
                print_env(data_dir, env, base)
                say("services are up; press Ctrl-C (or send SIGTERM) to stop them")
                while latch.received is None:
                    time.sleep(0.2)
                code = 128 + latch.received
            else:
                if not args.processes or "web" in args.processes:
                    say(f"web will listen on http://{env['HOST']}:{env['PORT']}")
                code = run_procfile(procfile, env, args.processes, kill_wait, latch)
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
