"""The ciphers and the PDF inspector, in memory, with what a test needs to see.

``FakeCipher`` binds each value to its context as the real cipher does (a value
opened under another context raises SealBroken) and records every context it
sealed and opened, so a test can tell how many times a value was sealed and
who opened what. Neither cipher is encryption: the bytes are only masked, so
that a plaintext never shows in what they produce.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterable, AsyncIterator
from itertools import count

from domain.errors import BadRequest, SealBroken, UnsupportedMediaType
from domain.sealing import Sealed

TAG = 8


def _tag(*parts: bytes) -> bytes:
    return hashlib.sha256(b"|".join(parts)).digest()[:TAG]


def _mask(data: bytes, key: bytes, offset: int = 0) -> bytes:
    return bytes(byte ^ key[(offset + i) % len(key)] for i, byte in enumerate(data))


class FakeCipher:
    active_key_id = "fake-k1"

    def __init__(self) -> None:
        self.sealed: list[str] = []  # the context of every value sealed, in order
        self.opened: list[str] = []  # the context of every value opened, in order

    def seal(self, plaintext: bytes, context: str) -> Sealed:
        self.sealed.append(context)
        key = context.encode()
        return Sealed(self.active_key_id, _tag(key) + _mask(plaintext, key))

    def open(self, sealed: Sealed, context: str) -> bytes:
        self.opened.append(context)
        key = context.encode()
        if sealed.key_id != self.active_key_id or sealed.blob[:TAG] != _tag(key):
            raise SealBroken("a stored value could not be opened")
        return _mask(sealed.blob[TAG:], key)

    def needs_reseal(self, sealed: Sealed) -> bool:
        return sealed.key_id != self.active_key_id


class FakeContentCipher:
    """A header binding key and context, then the bytes masked with the key by position."""

    def __init__(self) -> None:
        self._keys = count(1)

    def new_data_key(self) -> bytes:
        return hashlib.sha256(b"data key %d" % next(self._keys)).digest()

    async def encrypt(
        self, key: bytes, chunks: AsyncIterable[bytes], context: bytes
    ) -> AsyncIterator[bytes]:
        yield _tag(key, context)
        offset = 0
        async for chunk in chunks:
            yield _mask(chunk, key, offset)
            offset += len(chunk)

    async def decrypt(
        self, key: bytes, chunks: AsyncIterable[bytes], context: bytes
    ) -> AsyncIterator[bytes]:
        header, offset = b"", 0
        async for chunk in chunks:
            if len(header) < TAG:
                taken = TAG - len(header)
                header, chunk = header + chunk[:taken], chunk[taken:]
                if len(header) == TAG and header != _tag(key, context):
                    raise SealBroken("the content does not open with its key")
            if chunk:
                yield _mask(chunk, key, offset)
                offset += len(chunk)
        if header != _tag(key, context):
            raise SealBroken("the content does not open with its key")


class FakePdfInspector:
    """A "PDF" is bytes starting ``%PDF-``; one holding ``/JavaScript`` is refused; its pages
    are its ``/Page`` markers."""

    async def page_count(self, data: bytes) -> int:
        if not data.startswith(b"%PDF-"):
            raise UnsupportedMediaType("the file is not a PDF")
        if b"/JavaScript" in data:
            raise BadRequest("the PDF contains JavaScript, which we do not keep")
        return max(data.count(b"/Page "), 1)


def fake_pdf(pages: int = 1, filler: bytes = b"x" * 100) -> bytes:
    return b"%PDF-1.7\n" + b"".join(b"/Page " + filler for _ in range(pages)) + b"\n%%EOF"
