"""ASGI middleware and send hooks shared by every route."""

API_PREFIX = "/api/v1"  # the versioned API: rate limits, refusal audit and no-store apply here


def under_api(path: str) -> bool:
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


RawHeader = tuple[bytes, bytes]


def raw_headers(headers: dict[str, str]) -> list[RawHeader]:
    """``headers`` as an ASGI message carries them: lower-case names, latin-1 bytes."""
    return [
        (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()
    ]


def add_headers(message: dict, ours: list[RawHeader], *, replace: bool) -> None:
    """Add ``ours`` to a response start ``message`` in one pass over its raw headers (this
    runs on every response): ``replace`` drops the response's own of the same names, else
    the response's own are kept and ours of those names left out."""
    names = {name for name, _ in ours}
    own = message.get("headers", [])
    if replace:
        message["headers"] = [h for h in own if h[0].lower() not in names] + ours
    else:
        present = {h[0].lower() for h in own}
        message["headers"] = [*own, *(h for h in ours if h[0] not in present)]
