"""The launcher's own voice: plain lines on stderr, and the error that stops a launch.

Its lines are for a person at a terminal (the processes' lines go to stdout,
prefixed by name); none of them carries a secret.
"""

from __future__ import annotations

import sys
import time


class LaunchError(RuntimeError):
    """Raised when the platform cannot be started as configured; the message says why."""


def say(message: str) -> None:
    stamp = time.strftime("%H:%M:%S")
    print(f"{stamp} launch | {message}", file=sys.stderr, flush=True)
