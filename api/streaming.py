"""Streaming a file's bytes out: errors surface before the 200, names are header-safe."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import quote


async def prefetched(pieces: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Read the first piece before answering, so missing or unreachable content (or a
    ciphertext that does not open) is a clean problem response, not a 200 that breaks off."""
    first = await anext(pieces, None)

    async def rest() -> AsyncIterator[bytes]:
        if first is not None:
            yield first
        async for piece in pieces:
            yield piece

    return rest()


def attachment_name(filename: str) -> str:
    """Content-Disposition for a download, RFC 6266/5987: ASCII fallback plus UTF-8 name."""
    fallback = "".join(
        ch if ch.isascii() and ch.isprintable() and ch not in '"\\' else "_" for ch in filename
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
