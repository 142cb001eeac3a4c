"""Settings from the environment: defaults, secret lengths, numbers, refusals by name.

Every refusal names its setting and says what the value must be; all bad
settings of one environment are refused together; a secret is never quoted.
"""

from __future__ import annotations

import base64

import pytest

from domain.settings import _FLOATS, _INTS, MIN_SECRET_LENGTH, SettingsError, load_settings

KEY = base64.b64encode(bytes(32)).decode()
BASE = {"JWT_SECRET": "j" * MIN_SECRET_LENGTH, "PHI_KEYS": f"k1:{KEY}"}


def problems_of(**env: str) -> tuple[str, ...]:
    with pytest.raises(SettingsError) as caught:
        load_settings({**BASE, **env})
    return caught.value.problems


def test_the_least_environment_gives_the_documented_defaults() -> None:
    settings = load_settings(BASE)
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.phi_active_key_id == "k1"
    assert settings.metrics_token is None
    assert settings.rate_limit_user_per_minute == 100
    assert settings.log_format is None  # chosen by the terminal (domain/logging.py)
    assert settings.smtp_from == "Healthplat <no-reply@localhost>"


def test_a_metrics_token_is_read() -> None:
    token = "m" * MIN_SECRET_LENGTH
    assert load_settings({**BASE, "METRICS_TOKEN": token}).metrics_token == token


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("JWT_SECRET", "short"),
        ("METRICS_TOKEN", "m" * (MIN_SECRET_LENGTH - 1)),
        ("RATE_LIMIT_USER_PER_MINUTE", "many"),
        ("RELAY_INTERVAL_SECONDS", "-1"),
        ("PHI_KEYS", "k1:not-base64!"),
        ("LOG_FORMAT", "xml"),
    ],
)
def test_a_bad_setting_is_refused_by_name(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({**BASE, name: value})
    assert name in str(caught.value)


@pytest.mark.parametrize(
    ("env", "line"),
    [
        (
            {"ACCOUNT_EMAIL_MIN_SECONDS": "0"},
            'ACCOUNT_EMAIL_MIN_SECONDS must be a positive number of seconds (got "0")',
        ),
        (
            {"JOB_HEARTBEAT_SECONDS": "abc"},
            'JOB_HEARTBEAT_SECONDS must be a positive number of seconds (got "abc")',
        ),
        (
            {"RELAY_GRACE_SECONDS": "inf"},
            'RELAY_GRACE_SECONDS must be a positive number of seconds (got "inf")',
        ),
        (
            {"DB_POOL_MAX_SIZE": "1.5"},
            'DB_POOL_MAX_SIZE must be a positive whole number of connections (got "1.5")',
        ),
        (
            {"CONTENT_RETENTION_DAYS": "-3"},
            'CONTENT_RETENTION_DAYS must be a positive whole number of days (got "-3")',
        ),
        (
            {"LOG_FORMAT": "xml"},
            'LOG_FORMAT must be json or console, or be unset to choose by the terminal (got "xml")',
        ),
        (
            {"LOG_LEVEL": "loud"},
            'LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL (got "loud")',
        ),
        (
            {"PUBLIC_APP_URL": "app.example.org"},
            "PUBLIC_APP_URL must be an http:// or https:// URL naming a host "
            '(got "app.example.org")',
        ),
        (
            {"STELLAR_HORIZON_URL": "https://horizon:99999"},
            "STELLAR_HORIZON_URL must be a URL with a valid host and port "
            '(got "https://horizon:99999")',
        ),
        (
            {"SMTP_FROM": "nobody"},
            "SMTP_FROM must be a sender address, e.g. Healthplat <no-reply@example.org> "
            '(got "nobody")',
        ),
        (
            {"PHI_ACTIVE_KEY_ID": "k9"},
            'PHI_ACTIVE_KEY_ID must name a key in PHI_KEYS (k1) (got "k9")',
        ),
        (
            {"JOB_HEARTBEAT_SECONDS": "40"},
            "JOB_HEARTBEAT_SECONDS must be less than JOB_STALE_AFTER_SECONDS (30), "
            'else running jobs look lost (got "40")',
        ),
        (
            {"STELLAR_BASE_FEE": "200", "STELLAR_MAX_FEE": "150"},
            'STELLAR_BASE_FEE must be at most STELLAR_MAX_FEE (150) (got "200")',
        ),
    ],
)
def test_a_refusal_says_what_the_value_must_be(env: dict[str, str], line: str) -> None:
    assert problems_of(**env) == (line,)


@pytest.mark.parametrize("name", [*_FLOATS, *_INTS])
@pytest.mark.parametrize("value", ["0", "-1", "abc", "nan"])
def test_every_number_refuses_what_is_not_a_positive_number(name: str, value: str) -> None:
    (line,) = problems_of(**{name: value})
    assert line.startswith(f"{name} must be a positive ")
    assert line.endswith(f'(got "{value}")')


def test_every_bad_setting_is_refused_at_once_one_line_each() -> None:
    problems = problems_of(
        ACCOUNT_EMAIL_MIN_SECONDS="0",
        JOB_HEARTBEAT_SECONDS="abc",
        LOG_FORMAT="xml",
        PHI_KEYS="garbage",
        CORS_ORIGINS="https://a.org, https://b.org/, ftp://c",
    )
    named = sorted(line.split(" ", 1)[0] for line in problems)
    assert named == [
        "ACCOUNT_EMAIL_MIN_SECONDS",
        "CORS_ORIGINS",
        "JOB_HEARTBEAT_SECONDS",
        "LOG_FORMAT",
        "PHI_KEYS",
    ]
    cors = next(line for line in problems if line.startswith("CORS_ORIGINS"))
    assert cors.endswith('(got "https://b.org/, ftp://c")')


def test_a_pair_is_not_judged_when_one_of_it_was_refused() -> None:
    assert problems_of(JOB_HEARTBEAT_SECONDS="x", JOB_STALE_AFTER_SECONDS="1") == (
        'JOB_HEARTBEAT_SECONDS must be a positive number of seconds (got "x")',
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("JWT_SECRET", "short-but-secret"),
        ("METRICS_TOKEN", "secret-" + "m" * 10),
        ("PHI_KEYS", "k1:c2VjcmV0LWJ1dC10b28tc2hvcnQ="),
        ("PHI_KEYS", "secret-garbage"),
    ],
)
def test_a_refused_secret_is_not_echoed(name: str, value: str) -> None:
    (line,) = problems_of(**{name: value})
    assert line.startswith(f"{name} must be ")
    assert value not in line
    assert "got" not in line


def test_missing_secrets_say_what_to_set() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({})
    assert caught.value.problems == (
        f"JWT_SECRET must be a random string of at least {MIN_SECRET_LENGTH} characters",
        "PHI_KEYS must be set to a keyring of id:<base64 of 32 random bytes> entries, "
        "comma-separated (e.g. k1:...)",
    )


def test_an_empty_value_counts_as_unset() -> None:
    assert load_settings({**BASE, "METRICS_TOKEN": ""}).metrics_token is None


def test_names_and_formats_are_read_in_any_case() -> None:
    settings = load_settings({**BASE, "LOG_LEVEL": "debug", "LOG_FORMAT": "Console"})
    assert (settings.log_level, settings.log_format) == ("DEBUG", "console")


def test_origins_and_urls_that_are_right_are_kept() -> None:
    settings = load_settings(
        {
            **BASE,
            "CORS_ORIGINS": "https://app.example.org, http://127.0.0.1:3000",
            "PUBLIC_APP_URL": "https://app.example.org/portal",
            "IPFS_API_URL": "http://127.0.0.1:5001",
            "SMTP_FROM": "Clinic <no-reply@clinic.example>",
        }
    )
    assert settings.cors_origins == ("https://app.example.org", "http://127.0.0.1:3000")
    assert settings.public_app_url == "https://app.example.org/portal"
    assert settings.ipfs_api_url == "http://127.0.0.1:5001"


def test_webhook_secrets_are_read_per_provider_several_while_rotating() -> None:
    old, new = "whsec_" + base64.b64encode(bytes(range(24))).decode(), "whsec_" + KEY
    settings = load_settings({**BASE, "WEBHOOK_SECRETS": f"bakong:{old}, bakong:{new},ocr:{new}"})
    assert settings.webhook_secrets == {"bakong": (old, new), "ocr": (new,)}
    assert load_settings(BASE).webhook_secrets == {}


@pytest.mark.parametrize(
    "value",
    [
        "whsec_" + KEY,  # no provider
        "Bakong:whsec_" + KEY,  # a provider name in capitals
        "bakong:" + KEY,  # no whsec_ prefix
        "bakong:whsec_not base64!",
        "bakong:whsec_" + base64.b64encode(bytes(8)).decode(),  # too short to be a secret
    ],
)
def test_a_bad_webhook_secret_is_refused_and_never_quoted(value: str) -> None:
    [problem] = problems_of(WEBHOOK_SECRETS=value)
    assert problem.startswith("WEBHOOK_SECRETS must be provider:whsec_")
    assert KEY not in problem and "got" not in problem


def test_bakong_settings_are_read_and_what_goes_into_a_khqr_is_checked() -> None:
    settings = load_settings(
        {
            **BASE,
            "BAKONG_ACCOUNT_ID": "healthplat@aclb",
            "BAKONG_API_URL": "https://api.example",
            "BAKONG_TOKEN": "t" * 40,
            "PAYMENT_EXPIRY_SECONDS": "600",
        }
    )
    assert (settings.bakong_account_id, settings.payment_expiry_seconds) == ("healthplat@aclb", 600)
    assert settings.bakong_merchant_name == "Healthplat"
    problems = problems_of(
        BAKONG_ACCOUNT_ID="no-bank-part",
        BAKONG_MERCHANT_NAME="A name far longer than KHQR allows",
        BAKONG_MERCHANT_CITY="Ph\u00f4m P\u00e9nh",
        BAKONG_API_URL="ftp://x",
    )
    assert [p.split()[0] for p in problems] == [
        "BAKONG_ACCOUNT_ID",
        "BAKONG_MERCHANT_NAME",
        "BAKONG_MERCHANT_CITY",
        "BAKONG_API_URL",
    ]
    assert not any("t" * 40 in p for p in problems_of(BAKONG_TOKEN="t" * 40, BAKONG_API_URL="x"))


OCR_SECRET = "whsec_" + KEY
OCR_PROVIDER_ENV = {
    "OCR_ENGINE": "provider",
    "OCR_PROVIDER_URL": "https://ocr.example/v1/read",
    "OCR_PROVIDER_TOKEN": "ocr-token",
    "OCR_PROVIDER_WEBHOOK_SECRETS": OCR_SECRET,
}


def test_the_ocr_provider_is_read_its_secrets_join_the_ocr_webhook_provider() -> None:
    other = "whsec_" + base64.b64encode(bytes(range(24))).decode()
    settings = load_settings(
        {
            **BASE,
            **OCR_PROVIDER_ENV,
            "OCR_PROVIDER_WEBHOOK_SECRETS": f"{OCR_SECRET}, {other}",
            "WEBHOOK_SECRETS": f"bakong:{other}",
            "OCR_PROVIDER_TIMEOUT_SECONDS": "120",
        }
    )
    assert settings.ocr_engine == "provider"
    assert settings.ocr_provider_url == "https://ocr.example/v1/read"
    assert settings.ocr_provider_token == "ocr-token"
    assert settings.webhook_secrets == {"bakong": (other,), "ocr": (OCR_SECRET, other)}
    assert settings.ocr_provider_timeout_seconds == 120.0
    assert load_settings(BASE).ocr_provider_timeout_seconds == 600.0  # ten minutes
    # ocr:whsec_... in WEBHOOK_SECRETS serves as well
    alone = {k: v for k, v in OCR_PROVIDER_ENV.items() if k != "OCR_PROVIDER_WEBHOOK_SECRETS"}
    settings = load_settings({**BASE, **alone, "WEBHOOK_SECRETS": f"ocr:{OCR_SECRET}"})
    assert settings.webhook_secrets == {"ocr": (OCR_SECRET,)}


@pytest.mark.parametrize(
    "missing", ["OCR_PROVIDER_URL", "OCR_PROVIDER_TOKEN", "OCR_PROVIDER_WEBHOOK_SECRETS"]
)
def test_the_provider_engine_without_its_address_token_or_secret_does_not_start(
    missing: str,
) -> None:
    env = {k: v for k, v in OCR_PROVIDER_ENV.items() if k != missing}
    [problem] = problems_of(**env)
    assert problem.startswith(f"{missing} must be set when OCR_ENGINE is provider")


def test_a_bad_ocr_provider_setting_is_refused_and_its_secrets_never_quoted() -> None:
    problems = problems_of(
        **{
            **OCR_PROVIDER_ENV,
            "OCR_PROVIDER_URL": "ftp://ocr.example",
            "OCR_PROVIDER_WEBHOOK_SECRETS": "whsec_short",
            "OCR_PROVIDER_TIMEOUT_SECONDS": "0",
        }
    )
    assert [problem.split(" ")[0] for problem in problems] == [
        "OCR_PROVIDER_WEBHOOK_SECRETS",
        "OCR_PROVIDER_URL",
        "OCR_PROVIDER_TIMEOUT_SECONDS",
    ]
    assert "whsec_short" not in " ".join(problems)
    # an engine not named is refused with the three it may be
    [problem] = problems_of(OCR_ENGINE="cloud")
    assert "be embedded, tesseract or provider" in problem
