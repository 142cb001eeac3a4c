"""Secrets the launcher keeps in DATA_DIR for the settings the environment leaves unset.

Each is made on first use, written whole or not at all at mode 0600, and
read again on every later start, so tokens, sealed PHI and the anchoring
account survive restarts. A kept file that holds something unusable stops the
launch and is left as it is: the PHI keyring above all, since losing it makes
every sealed PHI value unreadable.
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from domain.settings import MIN_SECRET_LENGTH, parse_keyring
from workers.launcher.console import LaunchError, say

FIRST_PHI_KEY_ID = "k1"


@dataclass(frozen=True)
class KeptSecret:
    setting: str
    file_name: str
    problem: Callable[[str], str | None]  # what a kept value must be, when it is not that
    make: Callable[[], str]
    fix: str  # what the operator can do about a bad file
    note: str = ""  # what the operator should know of the file


def _random_secret() -> str:
    return secrets.token_urlsafe(48)


def _secret_problem(value: str) -> str | None:
    return None if len(value) >= MIN_SECRET_LENGTH else f"at least {MIN_SECRET_LENGTH} characters"


def _new_keyring() -> str:
    return f"{FIRST_PHI_KEY_ID}:{base64.b64encode(os.urandom(32)).decode()}"


def _keyring_problem(value: str) -> str | None:
    try:
        parse_keyring(value)
    except ValueError as exc:
        return f"a PHI keyring ({exc})"
    return None


def _new_stellar_seed() -> str:
    """A new key is an account nobody funded yet: anchoring keeps transactions signed, not
    submitted, until a Horizon is configured (and the account funded)."""
    from stellar_sdk import Keypair

    return Keypair.random().secret


def _stellar_seed_problem(value: str) -> str | None:
    from stellar_sdk import Keypair

    try:
        Keypair.from_secret(value)
    except Exception:
        return "a Stellar secret seed"
    return None


JWT_SECRET = KeptSecret(
    "JWT_SECRET", "jwt_secret", _secret_problem, _random_secret, "; remove it to get a new one"
)
PHI_KEYS = KeptSecret(
    "PHI_KEYS",
    "phi_keys",
    _keyring_problem,
    _new_keyring,
    "; it is never replaced: restore it from your backup, or set PHI_KEYS",
    "; back it up",
)
STELLAR_SECRET_KEY = KeptSecret(
    "STELLAR_SECRET_KEY",
    "stellar_secret_key",
    _stellar_seed_problem,
    _new_stellar_seed,
    "; restore it, or set STELLAR_SECRET_KEY",
)
METRICS_TOKEN = KeptSecret(
    "METRICS_TOKEN",
    "metrics_token",
    _secret_problem,
    _random_secret,
    "; remove it to get a new one",
    "; give it to Prometheus",
)
KEPT_SECRETS = (JWT_SECRET, PHI_KEYS, STELLAR_SECRET_KEY, METRICS_TOKEN)


def kept_value(secret: KeptSecret, data_dir: Path) -> str | None:
    """The value kept for ``secret``, checked; None if there is none. Writes nothing; raises
    LaunchError (naming the file, never its content) if the file cannot serve."""
    path = data_dir / secret.file_name
    try:
        value = path.read_text().strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise LaunchError(f"{path} (kept for {secret.setting}) cannot be read: {exc}") from None
    if not value:
        return None
    problem = secret.problem(value)
    if problem is not None:
        raise LaunchError(f"{path} (kept for {secret.setting}) must hold {problem}{secret.fix}")
    return value


def load_or_create(secret: KeptSecret, data_dir: Path) -> tuple[str, bool]:
    """The value kept for ``secret`` (its file tightened to 0600), else a new one, kept;
    True if it was just made."""
    path = data_dir / secret.file_name
    value = kept_value(secret, data_dir)
    if value is not None:
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)
        return value, False
    value = secret.make()
    _keep(path, value)
    return value, True


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


def resolve_kept_secrets(base: Mapping[str, str], data_dir: Path) -> dict[str, str]:
    """For each kept secret the environment leaves unset, the value kept (made on first use),
    saying where each comes from (never the value)."""
    resolved: dict[str, str] = {}
    for secret in KEPT_SECRETS:
        if base.get(secret.setting):
            say(f"{secret.setting}: from the environment")
            continue
        value, made = load_or_create(secret, data_dir)
        state = "generated and saved in" if made else "read from"
        say(f"{secret.setting}: {state} {data_dir / secret.file_name} (mode 0600{secret.note})")
        resolved[secret.setting] = value
    return resolved


def stand_in_secrets(
    base: Mapping[str, str], data_dir: Path | None
) -> tuple[dict[str, str], list[str]]:
    """What ``resolve_kept_secrets`` will give, without writing anything: each kept value, or a
    new one in its place (also for a file that cannot serve, which is a problem of its own, and
    for every file when DATA_DIR is None: unusable); and the problems of those files."""
    values: dict[str, str] = {}
    problems: list[str] = []
    for secret in KEPT_SECRETS:
        if base.get(secret.setting):
            continue
        kept = None
        if data_dir is not None:
            try:
                kept = kept_value(secret, data_dir)
            except LaunchError as exc:
                problems.append(str(exc))
        values[secret.setting] = kept or secret.make()
    return values, problems
