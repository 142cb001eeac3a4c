"""ASGI middleware and send hooks shared by every route."""

API_PREFIX = "/api/v1"  # the versioned API: rate limits, refusal audit and no-store apply here


def under_api(path: str) -> bool:
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")
