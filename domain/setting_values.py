"""Turning a setting's text into a value, and refusing it in words an operator can act on.

Every refusal names the setting, says what its value must be and, unless the
setting is a secret, quotes what it got (a URL with its password and any
secret-looking query value masked). ``Refusals`` collects them for a whole
environment instead of stopping at the first, so that a process, or the
launcher for all of its processes at once, reports every bad setting in one go.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from collections.abc import Callable, Mapping
from typing import TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

T = TypeVar("T")

# Settings whose values are never quoted, not even in part.
SECRET_SETTINGS = frozenset(
    {
        "JWT_SECRET",
        "PHI_KEYS",
        "METRICS_TOKEN",
        "STELLAR_SECRET_KEY",
        "WEBHOOK_SECRETS",
        "BAKONG_TOKEN",
        "OCR_PROVIDER_TOKEN",
        "OCR_PROVIDER_WEBHOOK_SECRETS",
    }
)
MASK = "***"
SHOWN_LENGTH = 80
_SECRET_QUERY_KEY = re.compile("pass|secret|token|key", re.IGNORECASE)
_HOST_NAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_-]+)*$"
)


class SettingsError(ValueError):
    """Raised when the environment holds missing or malformed settings.

    ``problems`` holds one line per bad setting, each naming it and saying what
    it must be (``refusal``); ``str()`` joins them.
    """

    def __init__(self, *problems: str) -> None:
        super().__init__("; ".join(problems))
        self.problems: tuple[str, ...] = problems


def redact_url(url: str) -> str | None:
    """``url`` with its password and secret-looking query values masked, safe to print;
    None if it cannot be parsed (then nothing of it is safe to show)."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return None
    if password is not None:
        userinfo, _, hostport = parts.netloc.rpartition("@")
        parts = parts._replace(netloc=f"{userinfo.split(':', 1)[0]}:{MASK}@{hostport}")
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(_SECRET_QUERY_KEY.search(key) for key, _ in query):
        masked = [(key, MASK if _SECRET_QUERY_KEY.search(key) else value) for key, value in query]
        parts = parts._replace(query=urlencode(masked, safe="*/:"))
    return urlunsplit(parts)


def shown(value: str) -> str | None:
    """How a refused value may be quoted (JSON-style, on one line), or None if it must not be:
    a URL is quoted with its secrets masked; libpq-style text naming a password is not quoted."""
    if "://" in value:
        masked = redact_url(value)
        if masked is None:
            return None
        value = masked
    elif "=" in value and "password" in value.lower():
        return None
    if len(value) > SHOWN_LENGTH:
        value = value[: SHOWN_LENGTH - 3] + "..."
    return json.dumps(value, ensure_ascii=False)


def refusal(name: str, must: str, value: str | None = None) -> str:
    """``NAME must <must> (got "<value>")``; a secret's value is never quoted."""
    quoted = None if value is None or name in SECRET_SETTINGS else shown(value)
    return f"{name} must {must}" if quoted is None else f"{name} must {must} (got {quoted})"


def http_url_problem(url: str) -> str | None:
    """Why ``url`` is not an http(s) URL naming a host, or None if it is one."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return "a URL with a valid host and port"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "an http:// or https:// URL naming a host"
    return None


def is_origin(text: str) -> bool:
    """Whether ``text`` is a browser origin (``scheme://host[:port]``, http or https), or ``*``."""
    if text == "*":
        return True
    if http_url_problem(text) is not None:
        return False
    parts = urlsplit(text)
    return not (parts.path or parts.query or parts.fragment or parts.username is not None)


def host_problem(host: str) -> str | None:
    """Why ``host`` is neither an IP address nor a host name, or None."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return None if _HOST_NAME.match(host) else "an IP address or a host name"
    return None


class Refusals:
    """Reads the settings of one environment, collecting every refusal instead of stopping.

    A setting set to the empty string counts as unset. Readers return None for
    an unset or refused setting; ``raise_if_any`` ends the reading.
    """

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env
        self.problems: list[str] = []

    def text(self, name: str) -> str | None:
        value = self._env.get(name)
        return value if value else None

    def refuse(self, name: str, must: str, value: str | None = None) -> None:
        self.problems.append(refusal(name, must, value))

    def number(self, name: str, cast: type[int] | type[float], must: str) -> float | None:
        """A positive, finite number (``cast`` is int or float); ``must`` names its unit."""
        value = self.text(name)
        if value is None:
            return None
        try:
            number = cast(value)
        except ValueError:
            number = math.nan
        if not (math.isfinite(number) and number > 0):
            self.refuse(name, must, value)
            return None
        return number

    def port(self, name: str) -> int | None:
        value = self.text(name)
        if value is None:
            return None
        if not value.strip().isdigit() or not 0 < int(value) < 65536:
            self.refuse(name, "be a port number from 1 to 65535", value)
            return None
        return int(value)

    def choice(self, name: str, choices: Mapping[str, str], must: str) -> str | None:
        """One of ``choices``' keys (compared in lower case), read as its value."""
        value = self.text(name)
        if value is None:
            return None
        chosen = choices.get(value.strip().lower())
        if chosen is None:
            self.refuse(name, must, value)
        return chosen

    def checked(self, name: str, problem: Callable[[str], str | None]) -> str | None:
        """The value, if ``problem`` finds nothing wrong with it (else it says what it must be)."""
        value = self.text(name)
        if value is None:
            return None
        found = problem(value)
        if found is not None:
            self.refuse(name, f"be {found}", value)
            return None
        return value

    def parsed(self, name: str, parse: Callable[[str], T]) -> T | None:
        """``parse(value)`` when set; the SettingsError it raises joins the refusals."""
        value = self.text(name)
        if value is None:
            return None
        try:
            return parse(value)
        except SettingsError as exc:
            self.problems.extend(exc.problems)
            return None

    def raise_if_any(self) -> None:
        if self.problems:
            raise SettingsError(*self.problems)
