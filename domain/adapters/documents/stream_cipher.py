"""Segmented AES-256-GCM for documents: encrypt and decrypt as a stream, never the whole file.

A document can be 10 MB and a download should start at once, so one-shot AEAD
(which must see every byte before it can say whether any is genuine) does not
fit. The stream is cut into segments (64 KiB of plaintext each), and each
segment is sealed on its own, in the manner of Tink's streaming AEAD and age's
STREAM construction:

    header  = version (1) || nonce prefix (7, random) || segment size (4, big-endian)
    segment = AES-GCM(key, nonce, plaintext segment, aad) = ciphertext || tag (16)
    nonce   = nonce prefix || segment counter (4, big-endian) || last-segment flag (1)
    aad     = header || context

The counter in the nonce makes a reordered or dropped segment fail; the flag
makes a stream cut at a segment boundary fail (the new last segment was not
sealed as last) and so does one with segments added after the real last. The
header in the associated data binds the segment size and prefix; the caller's
context (a document id) binds the ciphertext to its place, so one document's
bytes cannot be served as another's. Every document gets a fresh random key,
and the random prefix keeps even a re-encryption under the same key (a retried
job) on fresh nonces.

Decryption releases a segment's plaintext only after its tag checked out, but a
stream that breaks in segment N has already released segments 0..N-1: a reader
that must not act on a partial document (an HTTP response) has to end abnormally
when SealBroken is raised rather than finish cleanly.
"""

from __future__ import annotations

import os
import struct
from collections.abc import AsyncIterable, AsyncIterator

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from domain.errors import SealBroken

VERSION = 1
KEY_BYTES = 32
SEGMENT_SIZE = 64 * 1024
MIN_SEGMENT_SIZE = 4 * 1024
MAX_SEGMENT_SIZE = 4 * 1024 * 1024  # a header naming more is refused before anything is buffered
PREFIX_BYTES = 7
TAG_BYTES = 16
_HEADER = struct.Struct(">B7sI")
HEADER_BYTES = _HEADER.size
MAX_SEGMENTS = 2**32  # the counter is 4 bytes

_BROKEN = "the stored document could not be opened"
_TRUNCATED = "the stored document is incomplete"


def new_data_key() -> bytes:
    """A fresh AES-256 key for one document (wrap it with the PHI keyring before storing)."""
    return os.urandom(KEY_BYTES)


def ciphertext_size(plaintext_size: int, *, segment_size: int = SEGMENT_SIZE) -> int:
    """How many bytes ``encrypt_stream`` makes of ``plaintext_size`` bytes.

    An empty plaintext still gets one (empty) last segment, so that a stream cut
    right after its header is told apart from an empty document.
    """
    if plaintext_size < 0:
        raise ValueError("a size cannot be negative")
    segments = max(1, -(-plaintext_size // segment_size))
    return HEADER_BYTES + plaintext_size + segments * TAG_BYTES


async def encrypt_stream(
    key: bytes,
    chunks: AsyncIterable[bytes],
    context: bytes,
    *,
    segment_size: int = SEGMENT_SIZE,
) -> AsyncIterator[bytes]:
    """The header, then one sealed segment per ``segment_size`` bytes of ``chunks``."""
    aead = _aead(key)
    _check_segment_size(segment_size)
    prefix = os.urandom(PREFIX_BYTES)
    header = _HEADER.pack(VERSION, prefix, segment_size)
    aad = header + context
    yield header
    reader = _Reader(chunks)
    try:
        for counter in range(MAX_SEGMENTS):
            plaintext = await reader.read(segment_size)
            last = await reader.at_end()
            yield aead.encrypt(_nonce(prefix, counter, last), plaintext, aad)
            if last:
                return
        raise ValueError("the plaintext is too long for one stream")
    finally:
        await reader.close()


async def decrypt_stream(
    key: bytes, chunks: AsyncIterable[bytes], context: bytes
) -> AsyncIterator[bytes]:
    """The plaintext, one segment at a time, each released only once it is known genuine.

    ``chunks`` may be cut anywhere; at most one ciphertext segment is held while
    reading. Raises SealBroken on a wrong key or context, or an altered, reordered,
    cut short or extended stream.
    """
    aead = _aead(key)
    reader = _Reader(chunks)
    try:
        header = bytes(await reader.read(HEADER_BYTES))
        if len(header) < HEADER_BYTES:
            raise SealBroken(_TRUNCATED)
        version, prefix, segment_size = _HEADER.unpack(header)
        if version != VERSION or not MIN_SEGMENT_SIZE <= segment_size <= MAX_SEGMENT_SIZE:
            raise SealBroken(_BROKEN)
        aad = header + context
        for counter in range(MAX_SEGMENTS):
            sealed = await reader.read(segment_size + TAG_BYTES)
            if len(sealed) < TAG_BYTES:
                raise SealBroken(_TRUNCATED)
            last = await reader.at_end()
            try:
                yield aead.decrypt(_nonce(prefix, counter, last), sealed, aad)
            except InvalidTag:
                raise SealBroken(_BROKEN) from None
            if last:
                return
        raise SealBroken(_BROKEN)
    finally:
        await reader.close()


def _aead(key: bytes) -> AESGCM:
    if len(key) != KEY_BYTES:
        raise ValueError("a document key is 32 bytes")
    return AESGCM(key)


def _check_segment_size(segment_size: int) -> None:
    if not MIN_SEGMENT_SIZE <= segment_size <= MAX_SEGMENT_SIZE:
        raise ValueError(f"segment size must be {MIN_SEGMENT_SIZE}..{MAX_SEGMENT_SIZE} bytes")


def _nonce(prefix: bytes, counter: int, last: bool) -> bytes:
    return prefix + counter.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


class _Reader:
    """Exact-size reads over chunks of any size, with a look-ahead to see the end coming.

    Knowing whether a segment is the last one needs only to know whether any byte
    follows it, so at most one segment plus the current input chunk is held.
    """

    def __init__(self, chunks: AsyncIterable[bytes]) -> None:
        self._chunks = aiter(chunks)
        self._rest = memoryview(b"")

    async def read(self, size: int) -> memoryview | bytearray:
        """``size`` bytes, or fewer only at the end of the input."""
        if await self._fill() and len(self._rest) >= size:  # within one input chunk: no copy
            piece = self._rest[:size]
            self._rest = self._rest[size:]
            return piece
        out = bytearray()
        while len(out) < size and await self._fill():
            take = size - len(out)
            out += self._rest[:take]
            self._rest = self._rest[take:]
        return out

    async def at_end(self) -> bool:
        return not await self._fill()

    async def _fill(self) -> bool:
        while not self._rest:
            try:
                chunk = await anext(self._chunks)
            except StopAsyncIteration:
                return False
            # a bytearray source may refill its buffer once we ask for more: keep a copy
            self._rest = memoryview(chunk if isinstance(chunk, bytes) else bytes(chunk))
        return True

    async def close(self) -> None:
        """Close the source when we stop early (a broken seal, a client gone), freeing it now."""
        self._rest = memoryview(b"")
        aclose = getattr(self._chunks, "aclose", None)
        if aclose is not None:
            await aclose()
