"""A quiet local HTTP server whose POSTs go to one callable: the suite's stand-ins for outside
services (the Bakong Open API, an OCR provider) are real servers on 127.0.0.1 built on it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def serve_posts(port: int, serve: Callable[[BaseHTTPRequestHandler], None]) -> ThreadingHTTPServer:
    """Start serving POSTs on 127.0.0.1:``port`` in a daemon thread; nothing is logged (a
    request may carry what must not reach a log)."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            serve(self)

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def stop_serving(server: ThreadingHTTPServer | None) -> None:
    if server is not None:
        server.shutdown()
        server.server_close()
