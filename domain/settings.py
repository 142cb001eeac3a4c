"""Settings are read from the environment once, at process start, and passed down.

Nothing reads ``os.environ`` after this module has built a ``Settings``: a
process that is handed a ``Settings`` behaves the same whatever its
environment says later, which keeps tests and workers deterministic.

A bad setting is refused by name with what it must be, all of them at once
(``SettingsError.problems``, domain/setting_values.py); settings that only an
adapter can parse are checked by domain/adapters/settings_check.py.
"""

from __future__ import annotations

import base64
import hmac
import os
import re
from collections.abc import Callable, Mapping
from email.utils import parseaddr
from pathlib import Path

import msgspec

from domain.setting_values import Refusals, http_url_problem, is_origin
from domain.setting_values import SettingsError as SettingsError  # raised by load_settings

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
    adherence_interval_seconds: float = 30.0  # how soon changed doses show in adherence
    content_retention_days: int = 30
    job_retention_days: int = 30  # finished jobs and their events are dropped after this
    metrics_token: str | None = None  # None: /metrics answers admins' tokens only
    dose_horizon_days: int = 14  # doses exist this many days ahead, extended daily
    dose_late_after_minutes: int = 60  # a dose taken later than this after due is late
    dose_grace_minutes: int = 240  # a dose not taken this long after due is missed
    dose_check_interval_seconds: float = 60.0  # how often missed doses and reminders are looked for
    # Inbound webhooks: each provider's active signing secrets (several while one is rotated)
    webhook_secrets: dict[str, tuple[str, ...]] = msgspec.field(default_factory=dict)
    bakong_api_url: str | None = None  # None: nothing is polled (callbacks still complete)
    bakong_token: str | None = None
    bakong_account_id: str | None = None  # None: payments cannot be created
    bakong_merchant_name: str = "Healthplat"
    bakong_merchant_city: str = "Phnom Penh"
    bakong_timeout_seconds: float = 15.0
    # A deeplink that opens the payer's Bakong app on the code: with both set (and the API)
    bakong_app_icon_url: str | None = None
    bakong_deeplink_callback: str | None = None  # where the Bakong app sends the payer back
    payment_expiry_seconds: int = 900
    ocr_engine: str = "embedded"  # embedded (RapidOCR, in the wheel) | tesseract | provider
    # OCR_ENGINE=provider: an outside OCR service, sent the pages, calling back signed (its
    # secrets are the "ocr" provider's in webhook_secrets)
    ocr_provider_url: str | None = None
    ocr_provider_token: str | None = None
    ocr_provider_timeout_seconds: float = 600.0  # a scan it has not answered by then fails
    ocr_provider_check_interval_seconds: float = 30.0  # how often overdue scans are looked for
    audit_chain_interval_seconds: float = 30.0  # how often events left pending are looked for
    payment_poll_interval_seconds: float = 5.0
    hold_ttl_seconds: int = 300  # a held consultation's time is kept this long for its payment
    meeting_base_url: str = "https://meet.healthplat.example/"
    cancel_cutoff_hours: int = 24  # a patient cancelling later gets the late refund share
    late_cancel_refund_percent: int = 50
    consultation_check_interval_seconds: float = 10.0  # holds to release, reminders to send
    consultation_history_after_days: int = 30  # finished this long ago: moved to the history

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


DEFAULTS: dict[str, str] = {
    "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/healthplat",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "DATA_DIR": ".data",
}

SECONDS = "be a positive number of seconds"
_FLOATS = {  # all of them durations in seconds
    "CONSULTATION_CHECK_INTERVAL_SECONDS": "consultation_check_interval_seconds",
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
    "ADHERENCE_INTERVAL_SECONDS": "adherence_interval_seconds",
    "ACCOUNT_EMAIL_MIN_SECONDS": "account_email_min_seconds",
    "DOSE_CHECK_INTERVAL_SECONDS": "dose_check_interval_seconds",
    "BAKONG_TIMEOUT_SECONDS": "bakong_timeout_seconds",
    "PAYMENT_POLL_INTERVAL_SECONDS": "payment_poll_interval_seconds",
    "OCR_PROVIDER_TIMEOUT_SECONDS": "ocr_provider_timeout_seconds",
    "OCR_PROVIDER_CHECK_INTERVAL_SECONDS": "ocr_provider_check_interval_seconds",
    "AUDIT_CHAIN_INTERVAL_SECONDS": "audit_chain_interval_seconds",
}
_INTS = {  # (field, what it counts)
    "ACCESS_TOKEN_TTL_SECONDS": ("access_token_ttl_seconds", "seconds"),
    "REFRESH_TOKEN_TTL_SECONDS": ("refresh_token_ttl_seconds", "seconds"),
    "RATE_LIMIT_AUTH_PER_MINUTE": ("rate_limit_auth_per_minute", "requests a minute"),
    "RATE_LIMIT_USER_PER_MINUTE": ("rate_limit_user_per_minute", "requests a minute"),
    "DB_POOL_MAX_SIZE": ("db_pool_max_size", "connections"),
    "RELAY_BATCH_SIZE": ("relay_batch_size", "jobs"),
    "MAX_REQUEST_BODY_BYTES": ("max_request_body_bytes", "bytes"),
    "STELLAR_BASE_FEE": ("stellar_base_fee", "stroops"),
    "STELLAR_MAX_FEE": ("stellar_max_fee", "stroops"),
    "ANCHOR_BATCH_MAX": ("anchor_batch_max", "CIDs"),
    "CONTENT_RETENTION_DAYS": ("content_retention_days", "days"),
    "JOB_RETENTION_DAYS": ("job_retention_days", "days"),
    "DOSE_HORIZON_DAYS": ("dose_horizon_days", "days"),
    "DOSE_LATE_AFTER_MINUTES": ("dose_late_after_minutes", "minutes"),
    "DOSE_GRACE_MINUTES": ("dose_grace_minutes", "minutes"),
    "PAYMENT_EXPIRY_SECONDS": ("payment_expiry_seconds", "seconds"),
    "HOLD_TTL": ("hold_ttl_seconds", "seconds"),
    "CANCEL_CUTOFF_HOURS": ("cancel_cutoff_hours", "hours"),
    "LATE_CANCEL_REFUND_PERCENT": ("late_cancel_refund_percent", "percent"),
    "CONSULTATION_HISTORY_AFTER_DAYS": ("consultation_history_after_days", "days"),
}
# Read as they are; what they must be is checked by the adapter that parses them
# (domain/adapters/settings_check.py) or needs no check.
_STRINGS = {
    "SMTP_URL": "smtp_url",
    "STELLAR_SECRET_KEY": "stellar_secret_key",
    "STELLAR_NETWORK_PASSPHRASE": "stellar_network_passphrase",
    "BAKONG_TOKEN": "bakong_token",
    "BAKONG_DEEPLINK_CALLBACK": "bakong_deeplink_callback",
    "OCR_PROVIDER_TOKEN": "ocr_provider_token",
}
_URLS = {
    "PUBLIC_APP_URL": "public_app_url",
    "IPFS_API_URL": "ipfs_api_url",
    "STELLAR_HORIZON_URL": "stellar_horizon_url",
    "BAKONG_API_URL": "bakong_api_url",
    "BAKONG_APP_ICON_URL": "bakong_app_icon_url",
    "OCR_PROVIDER_URL": "ocr_provider_url",
    "MEETING_BASE_URL": "meeting_base_url",
}
LOG_LEVEL_NAMES = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_LEVELS = {name.lower(): name for name in LOG_LEVEL_NAMES} | {"warn": "WARNING"}
LOG_FORMATS = {"json": "json", "console": "console"}
OCR_ENGINES = {"embedded": "embedded", "tesseract": "tesseract", "provider": "provider"}
OCR_PROVIDER = "ocr"  # the OCR provider's name among webhook providers (its callback's path)
KEYRING_FORM = "a keyring of id:<base64 of 32 random bytes> entries, comma-separated"


def parse_keyring(text: str) -> dict[str, bytes]:
    """``"k1:<base64 of 32 bytes>,k2:<...>"`` into key ids and AES-256 keys; raises ValueError.

    The last key listed is the active one unless PHI_ACTIVE_KEY_ID says otherwise.
    """
    keys: dict[str, bytes] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key_id, sep, encoded = item.partition(":")
        if not sep or not key_id:
            raise ValueError("an entry is not written id:base64key")
        try:
            key = base64.b64decode(encoded, validate=True)
        except ValueError:
            raise ValueError("a key is not valid base64") from None
        if len(key) != 32:
            raise ValueError("a key is not 32 bytes long")
        keys[key_id] = key
    if not keys:
        raise ValueError("no key is listed")
    return keys


def database_url_from_env(environ: Mapping[str, str] | None = None) -> str:
    """The one setting migrations need; they must run without the app's secrets."""
    env = os.environ if environ is None else environ
    return env.get("DATABASE_URL") or DEFAULTS["DATABASE_URL"]


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """The settings of ``environ`` (default: the process's environment); SettingsError names
    every bad one, not only the first."""
    read = Refusals(os.environ if environ is None else environ)
    fields: dict[str, object] = {
        "database_url": read.text("DATABASE_URL") or DEFAULTS["DATABASE_URL"],
        "redis_url": read.text("REDIS_URL") or DEFAULTS["REDIS_URL"],
        "data_dir": Path(read.text("DATA_DIR") or DEFAULTS["DATA_DIR"]).resolve(),
        "jwt_secret": _secret(read, "JWT_SECRET", required=True),
        "metrics_token": _secret(read, "METRICS_TOKEN", required=False),
        **_phi_keys(read),
        "cors_origins": _cors_origins(read),
        "webhook_secrets": _webhook_secrets(read),
        "bakong_account_id": read.checked("BAKONG_ACCOUNT_ID", _bakong_account_problem),
        "bakong_merchant_name": read.checked("BAKONG_MERCHANT_NAME", _khqr_text_problem(25)),
        "bakong_merchant_city": read.checked("BAKONG_MERCHANT_CITY", _khqr_text_problem(15)),
        "smtp_from": read.checked("SMTP_FROM", _sender_problem),
        "log_level": read.choice(
            "LOG_LEVEL", LOG_LEVELS, f"be one of {', '.join(LOG_LEVEL_NAMES)}"
        ),
        "ocr_engine": read.choice("OCR_ENGINE", OCR_ENGINES, "be embedded, tesseract or provider"),
        "log_format": read.choice(
            "LOG_FORMAT",
            LOG_FORMATS,
            "be json or console, or be unset to choose by the terminal",
        ),
    }
    for name, attr in _STRINGS.items():
        fields[attr] = read.text(name)
    for name, attr in _URLS.items():
        fields[attr] = read.checked(name, http_url_problem)
    for name, attr in _FLOATS.items():
        fields[attr] = read.number(name, float, SECONDS)
    for name, (attr, unit) in _INTS.items():
        fields[attr] = read.number(name, int, f"be a positive whole number of {unit}")
    _check_pairs(read, fields)
    _check_ocr_provider(read, fields)
    read.raise_if_any()
    # An unset setting keeps the field's default; "metrics_token" and the URLs default to None.
    return Settings(**{k: v for k, v in fields.items() if v is not None})  # type: ignore[arg-type]


def _secret(read: Refusals, name: str, *, required: bool) -> str | None:
    value = read.text(name)
    if (value is None and required) or (value is not None and len(value) < MIN_SECRET_LENGTH):
        unset = "" if required else ", or be unset"
        read.refuse(name, f"be a random string of at least {MIN_SECRET_LENGTH} characters{unset}")
        return None
    return value


def _phi_keys(read: Refusals) -> dict[str, object]:
    text = read.text("PHI_KEYS")
    if text is None:
        read.refuse("PHI_KEYS", f"be set to {KEYRING_FORM} (e.g. k1:...)")
        return {}
    try:
        keys = parse_keyring(text)
    except ValueError as exc:
        read.refuse("PHI_KEYS", f"be {KEYRING_FORM} ({exc})")
        return {}
    active = read.text("PHI_ACTIVE_KEY_ID") or list(keys)[-1]
    if active not in keys:
        read.refuse("PHI_ACTIVE_KEY_ID", f"name a key in PHI_KEYS ({', '.join(keys)})", active)
        return {}
    return {"phi_keys": keys, "phi_active_key_id": active}


def _cors_origins(read: Refusals) -> tuple[str, ...]:
    origins = tuple(
        origin.strip() for origin in (read.text("CORS_ORIGINS") or "").split(",") if origin.strip()
    )
    bad = [origin for origin in origins if not is_origin(origin)]
    if bad:
        must = "list origins, comma-separated, each * or scheme://host[:port] (http or https, "
        read.refuse("CORS_ORIGINS", must + "no path, not even a trailing /)", ", ".join(bad))
    return origins


WEBHOOK_PROVIDER = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
WEBHOOK_SECRET_PREFIX = "whsec_"
MIN_WEBHOOK_SECRET_BYTES = 24
WEBHOOK_SECRETS_FORM = (
    "be provider:whsec_<base64 of at least 24 random bytes> entries, comma-separated "
    "(several per provider while a secret is rotated)"
)


def parse_webhook_secrets(text: str) -> dict[str, tuple[str, ...]]:
    """``"bakong:whsec_...,bakong:whsec_..."`` into each provider's secrets; raises ValueError."""
    found: dict[str, list[str]] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        provider, sep, secret = item.partition(":")
        if not sep or not WEBHOOK_PROVIDER.match(provider):
            raise ValueError("an entry does not start with a provider name (a-z, 0-9, - or _)")
        if not secret.startswith(WEBHOOK_SECRET_PREFIX):
            raise ValueError(f"a secret of {provider} does not start with whsec_")
        try:
            key = base64.b64decode(secret[len(WEBHOOK_SECRET_PREFIX) :], validate=True)
        except ValueError:
            raise ValueError(f"a secret of {provider} is not valid base64") from None
        if len(key) < MIN_WEBHOOK_SECRET_BYTES:
            raise ValueError(f"a secret of {provider} is shorter than 24 bytes")
        found.setdefault(provider, []).append(secret)
    return {provider: tuple(secrets) for provider, secrets in found.items()}


def _webhook_secrets(read: Refusals) -> dict[str, tuple[str, ...]] | None:
    """WEBHOOK_SECRETS, with OCR_PROVIDER_WEBHOOK_SECRETS as the ``ocr`` provider's too."""
    text = read.text("WEBHOOK_SECRETS")
    secrets: dict[str, tuple[str, ...]] = {}
    if text is not None:
        try:
            secrets = parse_webhook_secrets(text)
        except ValueError as exc:
            read.refuse("WEBHOOK_SECRETS", f"{WEBHOOK_SECRETS_FORM} ({exc})")
            return None
    ocr = read.text("OCR_PROVIDER_WEBHOOK_SECRETS")
    if ocr is not None:
        entries = ",".join(f"{OCR_PROVIDER}:{part.strip()}" for part in ocr.split(","))
        try:
            own = parse_webhook_secrets(entries)
        except ValueError as exc:
            must = "be whsec_<base64 of at least 24 random bytes> secrets, comma-separated"
            read.refuse("OCR_PROVIDER_WEBHOOK_SECRETS", f"{must} ({exc})")
            return None
        secrets[OCR_PROVIDER] = secrets.get(OCR_PROVIDER, ()) + own.get(OCR_PROVIDER, ())
    return secrets or None


def _check_ocr_provider(read: Refusals, fields: Mapping[str, object]) -> None:
    """OCR_ENGINE=provider needs the provider's address, its token and its signing secrets:
    without one of them no scan could ever be read, so the process refuses to start. (One
    set but refused was refused already: it is not named twice.)"""
    if fields.get("ocr_engine") != "provider":
        return
    if read.text("OCR_PROVIDER_URL") is None:
        read.refuse("OCR_PROVIDER_URL", "be set when OCR_ENGINE is provider (its http(s) URL)")
    if read.text("OCR_PROVIDER_TOKEN") is None:
        read.refuse("OCR_PROVIDER_TOKEN", "be set when OCR_ENGINE is provider (its bearer token)")
    secrets = fields.get("webhook_secrets")
    if secrets is None and any(map(read.text, ("WEBHOOK_SECRETS", "OCR_PROVIDER_WEBHOOK_SECRETS"))):
        return  # refused above
    if OCR_PROVIDER not in (secrets or {}):  # type: ignore[operator]
        read.refuse(
            "OCR_PROVIDER_WEBHOOK_SECRETS",
            "be set when OCR_ENGINE is provider (the whsec_... secrets its callbacks are signed "
            "with, comma-separated; or ocr:whsec_... entries in WEBHOOK_SECRETS)",
        )


def _bakong_account_problem(value: str) -> str | None:
    name, at, bank = value.partition("@")
    if at and name and bank and len(value) <= 32 and value.isascii():
        return None
    return "a Bakong account id of at most 32 characters, e.g. healthplat@aclb"


def _khqr_text_problem(limit: int) -> Callable[[str], str | None]:
    def problem(value: str) -> str | None:
        if value.isascii() and value.isprintable() and 0 < len(value) <= limit:
            return None
        return f"printable ASCII text of at most {limit} characters (it goes into every KHQR)"

    return problem


def _sender_problem(value: str) -> str | None:
    local, at, domain = parseaddr(value)[1].rpartition("@")
    if at and local and domain:
        return None
    return "a sender address, e.g. Healthplat <no-reply@example.org>"


def _check_pairs(read: Refusals, fields: Mapping[str, object]) -> None:
    """Settings each fine alone but wrong together (not checked when either was refused)."""
    defaults = {field.name: field.default for field in msgspec.structs.fields(Settings)}

    def value(name: str, attr: str) -> float | None:
        if fields.get(attr) is not None:
            return fields[attr]  # type: ignore[return-value]
        return None if read.text(name) is not None else defaults[attr]

    heartbeat = value("JOB_HEARTBEAT_SECONDS", "job_heartbeat_seconds")
    stale = value("JOB_STALE_AFTER_SECONDS", "job_stale_after_seconds")
    if heartbeat is not None and stale is not None and heartbeat >= stale:
        read.refuse(
            "JOB_HEARTBEAT_SECONDS",
            f"be less than JOB_STALE_AFTER_SECONDS ({stale:g}), else running jobs look lost",
            f"{heartbeat:g}",
        )
    base_fee = value("STELLAR_BASE_FEE", "stellar_base_fee")
    max_fee = value("STELLAR_MAX_FEE", "stellar_max_fee")
    if base_fee is not None and max_fee is not None and base_fee > max_fee:
        read.refuse(
            "STELLAR_BASE_FEE", f"be at most STELLAR_MAX_FEE ({max_fee:g})", f"{base_fee:g}"
        )
