"""A KHQR code as a QR image (segno): PNG for apps, SVG for the web."""

from __future__ import annotations

import io

import segno


class SegnoQr:
    def __init__(self, scale: int = 6) -> None:
        self._scale = scale

    def _render(self, text: str, kind: str) -> bytes:
        out = io.BytesIO()
        segno.make(text, error="m", micro=False).save(out, kind=kind, scale=self._scale, border=4)
        return out.getvalue()

    def png(self, text: str) -> bytes:
        return self._render(text, "png")

    def svg(self, text: str) -> bytes:
        return self._render(text, "svg")
