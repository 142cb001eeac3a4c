"""Settings from the environment: defaults, secret lengths, numbers, refusals by name."""

from __future__ import annotations

import base64

import pytest

from domain.settings import MIN_SECRET_LENGTH, SettingsError, load_settings

KEY = base64.b64encode(bytes(32)).decode()
BASE = {"JWT_SECRET": "j" * MIN_SECRET_LENGTH, "PHI_KEYS": f"k1:{KEY}"}


def test_the_least_environment_gives_the_documented_defaults() -> None:
    settings = load_settings(BASE)
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.phi_active_key_id == "k1"
    assert settings.metrics_token is None
    assert settings.rate_limit_user_per_minute == 100


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


def test_a_refused_secret_is_not_echoed() -> None:
    token = "secret-" + "m" * 10
    with pytest.raises(SettingsError) as caught:
        load_settings({**BASE, "METRICS_TOKEN": token})
    assert token not in str(caught.value)


def test_an_empty_value_counts_as_unset() -> None:
    assert load_settings({**BASE, "METRICS_TOKEN": ""}).metrics_token is None
