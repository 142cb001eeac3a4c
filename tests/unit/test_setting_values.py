"""How a setting's text is judged and how a refusal quotes it: never a secret, on one line."""

from __future__ import annotations

import pytest

from domain.setting_values import (
    Refusals,
    SettingsError,
    host_problem,
    http_url_problem,
    is_origin,
    redact_url,
    refusal,
    shown,
)


def test_a_url_is_shown_with_its_password_and_secret_query_values_masked() -> None:
    url = "postgresql://app:s3cret@db:5432/hp?sslmode=require&password=hunter2&apikey=k"
    masked = redact_url(url)
    assert masked == "postgresql://app:***@db:5432/hp?sslmode=require&password=***&apikey=***"
    assert redact_url("redis://127.0.0.1:6380/0") == "redis://127.0.0.1:6380/0"
    socket_url = "postgresql://app@/hp?host=/srv/data/postgres&sslmode=disable"
    assert redact_url(socket_url) == socket_url  # nothing secret: left exactly as it was
    assert redact_url("http://[::1") is None  # unparseable: nothing of it is shown


def test_a_value_is_quoted_on_one_line_and_cut_when_long() -> None:
    assert shown('two\nlines "quoted"') == '"two\\nlines \\"quoted\\""'
    assert shown("x" * 200) == '"' + "x" * 77 + '..."'
    assert shown("host=db password=hunter2") is None  # libpq text with a password
    assert shown("http://[::1") is None


def test_a_refusal_quotes_the_value_unless_the_setting_is_a_secret() -> None:
    assert refusal("PORT", "be a port", "99999") == 'PORT must be a port (got "99999")'
    assert refusal("PORT", "be set") == "PORT must be set"
    for secret in ("JWT_SECRET", "PHI_KEYS", "METRICS_TOKEN", "STELLAR_SECRET_KEY"):
        assert refusal(secret, "be long", "hunter2") == f"{secret} must be long"


def test_refusals_collect_every_bad_setting_and_keep_the_good_ones() -> None:
    read = Refusals({"N": "0", "M": "2.5", "P": "99999", "Q": "8080", "E": "", "F": "inf"})
    assert read.number("N", int, "be a positive whole number") is None
    assert read.number("M", float, "be a positive number") == 2.5
    assert read.number("F", float, "be a positive number") is None
    assert read.number("E", int, "be a positive whole number") is None  # unset: no refusal
    assert read.port("P") is None
    assert read.port("Q") == 8080
    assert read.problems == [
        'N must be a positive whole number (got "0")',
        'F must be a positive number (got "inf")',
        'P must be a port number from 1 to 65535 (got "99999")',
    ]
    with pytest.raises(SettingsError) as caught:
        read.raise_if_any()
    assert caught.value.problems == tuple(read.problems)


def test_a_parser_s_settings_error_joins_the_refusals() -> None:
    def parse(value: str) -> str:
        raise SettingsError("X must be right", "Y must be right too")

    read = Refusals({"X": "wrong"})
    assert read.parsed("X", parse) is None
    assert read.problems == ["X must be right", "Y must be right too"]


@pytest.mark.parametrize(
    ("text", "origin"),
    [
        ("https://app.example.org", True),
        ("http://127.0.0.1:3000", True),
        ("*", True),
        ("https://app.example.org/", False),
        ("https://app.example.org/path", False),
        ("ftp://files.example.org", False),
        ("app.example.org", False),
    ],
)
def test_an_origin_is_a_scheme_a_host_and_maybe_a_port(text: str, origin: bool) -> None:
    assert is_origin(text) is origin


def test_urls_and_hosts() -> None:
    assert http_url_problem("https://horizon.example.org") is None
    assert http_url_problem("horizon.example.org") is not None
    assert http_url_problem("http://h:port") is not None
    assert [host_problem(h) for h in ("127.0.0.1", "::", "0.0.0.0", "localhost")] == [None] * 4
    assert host_problem("not a host") is not None
