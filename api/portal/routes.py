"""The portal's routes: its one page at ``/`` (and the e-mailed links' paths), its files under
``/portal``. Neither is part of the JSON API: no token, not in the OpenAPI document."""

from __future__ import annotations

from pathlib import Path

from litestar import Router, get
from litestar.response import File
from litestar.static_files import create_static_files_router

from domain.accounts.signup import RESET_PATH, VERIFY_PATH

STATIC_DIR = Path(__file__).parent / "static"
ASSETS_PATH = "/portal"
# The page itself; the e-mailed links land on it too, and it reads their token from the URL
# once, then takes it out of the address bar.
PAGE_PATHS = ["/", f"/{VERIFY_PATH}", f"/{RESET_PATH}"]


@get(PAGE_PATHS, include_in_schema=False, sync_to_thread=False)
def portal_page() -> File:
    return File(
        STATIC_DIR / "index.html", content_disposition_type="inline", media_type="text/html"
    )


def portal_routes() -> list[object]:
    assets: Router = create_static_files_router(
        path=ASSETS_PATH, directories=[STATIC_DIR], include_in_schema=False
    )
    return [portal_page, assets]


def is_portal_path(path: str) -> bool:
    return path in PAGE_PATHS or path.startswith(ASSETS_PATH + "/")
