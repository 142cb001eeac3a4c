"""Settings are read from the environment once, at process start, and passed down.

Nothing reads ``os.environ`` after this module has built a ``Settings``: a
process that is handed a ``Settings`` behaves the same whatever its
environment says later, which keeps tests and workers deterministic.
"""

from __future__ import annotations

import base64
import hmac
import os
from collections.abc import Mapping
from pathlib import Path

import msgspec

TESTNET_PASSPHRASE = "Test SDF Network ; September 2015"
MIN_SECRET_LENGTH = 32  # JWT_SECRET, METRICS_TOKEN


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    database_url: str
    redis_url: str
    jwt_secret: str
    data_dir: Path
    smtp_url: str | None = None
    smtp_from: str = "Healthplat <no-reply@localhost>"
    smtp_timeout_seconds: float = 15.0
    log_level: str = "INFO"
    log_format: str | None = None  # None: console on a terminal, else JSON (domain/logging.py)
    db_pool_max_size: int = 10
    db_statement_timeout_seconds: float = 30.0
    job_heartbeat_seconds: float = 5.0
    job_stale_after_seconds: float = 30.0
    relay_interval_seconds: float = 2.0
    relay_grace_seconds: float = 10.0
    relay_batch_size: int = 500
    max_request_body_bytes: int = 1_000_000
    upload_deadline_seconds: float = 120.0
    phi_keys: dict[str, bytes]
    phi_active_key_id: str
    access_token_ttl_seconds: int = 900
    refresh_token_ttl_seconds: int = 30 * 24 * 3600
    public_app_url: str = "http://127.0.0.1:8000"
    cors_origins: tuple[str, ...] = ()
    rate_limit_auth_per_minute: int = 10
    rate_limit_user_per_minute: int = 100
    # A password-reset or sign-in-code request takes at least this long, whether or not the
    # address has an account (domain/timing_floor.py)
    account_email_min_seconds: float = 0.25
    ipfs_api_url: str | None = None  # None: the embedded block store under DATA_DIR/ipfs
    ipfs_timeout_seconds: float = 30.0
    stellar_secret_key: str | None = None  # None: nothing is anchored (the launcher makes one)
    stellar_horizon_url: str | None = None  # None: transactions are signed and kept, not sent
    stellar_network_passphrase: str = TESTNET_PASSPHRASE
    stellar_base_fee: int = 100
    stellar_max_fee: int = 10_000
    stellar_timeout_seconds: float = 30.0
    anchor_interval_seconds: float = 5.0
    anchor_batch_max: int = 10_000
    content_retention_days: int = 30
    metrics_token: str | None = None  # None: /metrics answers admins' tokens only

    @property
    def request_fingerprint_key(self) -> bytes:
        """Keys the fingerprints job rows keep of idempotent commands (derived from JWT_SECRET,
        which every API process shares; a new secret only makes in-flight replays conflict)."""
        label = b"healthplat request fingerprint v1"
        return hmac.new(self.jwt_secret.encode(), label, "sha256").digest()

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"

    @property
    def ipfs_dir(self) -> Path:
        """The embedded block store, used when IPFS_API_URL is not set."""
        return self.data_dir / "ipfs"


class SettingsError(ValueError):
    """Raised when the environment holds a missing or malformed setting."""


DEFAULTS: dict[str, str] = {
    "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/healthplat",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "DATA_DIR": ".data",
}

_FLOATS = {
    "DB_STATEMENT_TIMEOUT_SECONDS": "db_statement_timeout_seconds",
    "UPLOAD_DEADLINE_SECONDS": "upload_deadline_seconds",
    "SMTP_TIMEOUT_SECONDS": "smtp_timeout_seconds",
    "JOB_HEARTBEAT_SECONDS": "job_heartbeat_seconds",
    "JOB_STALE_AFTER_SECONDS": "job_stale_after_seconds",
    "RELAY_INTERVAL_SECONDS": "relay_interval_seconds",
    "RELAY_GRACE_SECONDS": "relay_grace_seconds",
    "IPFS_TIMEOUT_SECONDS": "ipfs_timeout_seconds",
    "STELLAR_TIMEOUT_SECONDS": "stellar_timeout_seconds",
    "ANCHOR_INTERVAL_SECONDS": "anchor_interval_seconds",
    "ACCOUNT_EMAIL_MIN_SECONDS": "account_email_min_seconds",
}
_INTS = {
    "ACCESS_TOKEN_TTL_SECONDS": "access_token_ttl_seconds",
    "REFRESH_TOKEN_TTL_SECONDS": "refresh_token_ttl_seconds",
    "RATE_LIMIT_AUTH_PER_MINUTE": "rate_limit_auth_per_minute",
    "RATE_LIMIT_USER_PER_MINUTE": "rate_limit_user_per_minute",
    "DB_POOL_MAX_SIZE": "db_pool_max_size",
    "RELAY_BATCH_SIZE": "relay_batch_size",
    "MAX_REQUEST_BODY_BYTES": "max_request_body_bytes",
    "STELLAR_BASE_FEE": "stellar_base_fee",
    "STELLAR_MAX_FEE": "stellar_max_fee",
    "ANCHOR_BATCH_MAX": "anchor_batch_max",
    "CONTENT_RETENTION_DAYS": "content_retention_days",
}
_STRINGS = {
    "SMTP_URL": "smtp_url",
    "SMTP_FROM": "smtp_from",
    "LOG_LEVEL": "log_level",
    "LOG_FORMAT": "log_format",
    "PUBLIC_APP_URL": "public_app_url",
    "IPFS_API_URL": "ipfs_api_url",
    "STELLAR_SECRET_KEY": "stellar_secret_key",
    "STELLAR_HORIZON_URL": "stellar_horizon_url",
    "STELLAR_NETWORK_PASSPHRASE": "stellar_network_passphrase",
    "METRICS_TOKEN": "metrics_token",
}


def parse_keyring(text: str) -> dict[str, bytes]:
    """``"k1:<base64 of 32 bytes>,k2:<...>"`` into key ids and AES-256 keys; raises ValueError.

    The last key listed is the active one unless PHI_ACTIVE_KEY_ID says otherwise.
    """
    keys: dict[str, bytes] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key_id, sep, encoded = item.partition(":")
        if not sep or not key_id:
            raise ValueError("each key must be written as id:base64key")
        try:
            key = base64.b64decode(encoded, validate=True)
        except ValueError:
            raise ValueError("a key is not valid base64") from None
        if len(key) != 32:
            raise ValueError("each key must be 32 bytes (AES-256)")
        keys[key_id] = key
    if not keys:
        raise ValueError("must be set, e.g. k1:<base64 of 32 random bytes>")
    return keys


def database_url_from_env(environ: Mapping[str, str] | None = None) -> str:
    """The one setting migrations need; they must run without the app's secrets."""
    env = os.environ if environ is None else environ
    return env.get("DATABASE_URL") or DEFAULTS["DATABASE_URL"]


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ

    def get(name: str) -> str | None:
        value = env.get(name)
        return value if value not in (None, "") else None

    jwt_secret = get("JWT_SECRET")
    if jwt_secret is None or len(jwt_secret) < MIN_SECRET_LENGTH:
        raise SettingsError(f"JWT_SECRET must be set to at least {MIN_SECRET_LENGTH} characters")
    metrics_token = get("METRICS_TOKEN")
    if metrics_token is not None and len(metrics_token) < MIN_SECRET_LENGTH:
        raise SettingsError(f"METRICS_TOKEN must be at least {MIN_SECRET_LENGTH} characters")
    try:
        phi_keys = parse_keyring(get("PHI_KEYS") or "")
    except ValueError as exc:
        raise SettingsError(f"PHI_KEYS: {exc}") from None
    active = get("PHI_ACTIVE_KEY_ID") or list(phi_keys)[-1]
    if active not in phi_keys:
        raise SettingsError("PHI_ACTIVE_KEY_ID must name a key in PHI_KEYS")
    fields: dict[str, object] = {
        "phi_keys": phi_keys,
        "phi_active_key_id": active,
        "cors_origins": tuple(
            origin.strip() for origin in (get("CORS_ORIGINS") or "").split(",") if origin.strip()
        ),
        "database_url": get("DATABASE_URL") or DEFAULTS["DATABASE_URL"],
        "redis_url": get("REDIS_URL") or DEFAULTS["REDIS_URL"],
        "jwt_secret": jwt_secret,
        "data_dir": Path(get("DATA_DIR") or DEFAULTS["DATA_DIR"]).resolve(),
    }
    for name, attr in _STRINGS.items():
        if (value := get(name)) is not None:
            fields[attr] = value
    for table, cast in ((_FLOATS, float), (_INTS, int)):
        for name, attr in table.items():
            if (value := get(name)) is None:
                continue
            try:
                number = cast(value)
            except ValueError:
                raise SettingsError(f"{name} must be a number") from None
            if number <= 0:
                raise SettingsError(f"{name} must be positive")
            fields[attr] = number
    if fields.get("log_format", "json") not in ("json", "console"):
        raise SettingsError("LOG_FORMAT must be json or console")
    return Settings(**fields)  # type: ignore[arg-type]
