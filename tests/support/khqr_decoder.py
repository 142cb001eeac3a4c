"""NBC's own KHQR SDK (npm bakong-khqr, tools/khqr), run as the suite's independent decoder:
many codes per node process, since starting node costs more than checking a code."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from tests.support.paths import PROJECT_ROOT

SCRIPT = PROJECT_ROOT / "tools" / "khqr" / "khqr.js"


def decoded(codes: list[str]) -> list[dict[str, Any]]:
    """For each code: ``{"valid": bool, "decoded": {...} | None}`` as the SDK sees it."""
    if not (SCRIPT.parent / "node_modules" / "bakong-khqr").is_dir():
        raise AssertionError("the KHQR decoder is not installed: run tools/khqr/install.sh")
    done = subprocess.run(
        ["node", str(SCRIPT)], input=json.dumps(codes), capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)
