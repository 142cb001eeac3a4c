"""Segmented AES-GCM: documents round-trip in pieces; any change, cut or addition is caught."""

from __future__ import annotations

import inspect
import os
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Callable, Sequence

import pytest

from domain.adapters.documents.stream_cipher import (
    HEADER_BYTES,
    MIN_SEGMENT_SIZE,
    SEGMENT_SIZE,
    TAG_BYTES,
    ciphertext_size,
    decrypt_stream,
    encrypt_stream,
    new_data_key,
)
from domain.adapters.phi.cipher import PhiCipher
from domain.errors import SealBroken

CONTEXT = b"documents:0b9e5a46-3f0f-4a55-9c55-6f1f0d1d2c11"
ODD_SIZES = (1, 7, 4093, 65537, 100_003, 3)
SEALED_SEGMENT = SEGMENT_SIZE + TAG_BYTES


async def pieces(data: bytes, sizes: Sequence[int]) -> AsyncIterator[bytes]:
    """``data`` in chunks cycling through ``sizes``."""
    at, turn = 0, 0
    while at < len(data):
        size = sizes[turn % len(sizes)]
        yield data[at : at + size]
        at, turn = at + size, turn + 1


async def joined(chunks: AsyncIterable[bytes]) -> bytes:
    return b"".join([chunk async for chunk in chunks])


async def sealed(data: bytes, key: bytes, context: bytes = CONTEXT, **options: int) -> bytes:
    return await joined(encrypt_stream(key, pieces(data, [len(data) or 1]), context, **options))


async def opened(data: bytes, key: bytes, context: bytes = CONTEXT) -> bytes:
    return await joined(decrypt_stream(key, pieces(data, ODD_SIZES), context))


def segments(ciphertext: bytes) -> tuple[bytes, list[bytes]]:
    """The header and the sealed segments of a stream made with the default segment size."""
    body = ciphertext[HEADER_BYTES:]
    return ciphertext[:HEADER_BYTES], [
        body[at : at + SEALED_SEGMENT] for at in range(0, len(body), SEALED_SEGMENT)
    ]


def plaintext_of(size: int) -> bytes:
    return os.urandom(size)


@pytest.mark.parametrize("size", [0, 1, 65535, 65536, 65537, 1_000_000])
@pytest.mark.parametrize(
    "chunking",
    [(1 << 30,), ODD_SIZES, (65536,), (65552,)],
    ids=["one chunk", "odd chunks", "segment-sized", "sealed-segment-sized"],
)
async def test_any_size_round_trips_whatever_the_chunking(
    size: int, chunking: Sequence[int]
) -> None:
    key, plaintext = new_data_key(), plaintext_of(size)
    ciphertext = await joined(encrypt_stream(key, pieces(plaintext, chunking), CONTEXT))
    assert len(ciphertext) == ciphertext_size(size)
    assert ciphertext[0] == 1  # the version byte
    again = await joined(decrypt_stream(key, pieces(ciphertext, chunking), CONTEXT))
    assert again == plaintext


async def test_byte_by_byte_input_round_trips() -> None:
    key, plaintext = new_data_key(), plaintext_of(SEGMENT_SIZE + 100)
    ciphertext = await joined(encrypt_stream(key, pieces(plaintext, [1]), CONTEXT))
    assert await joined(decrypt_stream(key, pieces(ciphertext, [1]), CONTEXT)) == plaintext


async def test_empty_chunks_in_the_input_are_harmless() -> None:
    async def with_gaps(data: bytes) -> AsyncIterator[bytes]:
        for at in range(0, len(data), 50_000):
            yield b""
            yield data[at : at + 50_000]
            yield b""

    key, plaintext = new_data_key(), plaintext_of(200_000)
    ciphertext = await joined(encrypt_stream(key, with_gaps(plaintext), CONTEXT))
    assert await joined(decrypt_stream(key, with_gaps(ciphertext), CONTEXT)) == plaintext


async def test_a_source_that_reuses_one_buffer_round_trips() -> None:
    """Like a file read with readinto(): each chunk is the same bytearray, refilled."""

    async def refilled(data: bytes, size: int) -> AsyncIterator[bytearray]:
        buffer = bytearray(size)
        for at in range(0, len(data), size):
            piece = data[at : at + size]
            buffer[: len(piece)] = piece
            yield buffer if len(piece) == size else buffer[: len(piece)]

    key, plaintext = new_data_key(), plaintext_of(5 * SEGMENT_SIZE + 77)
    for size in (SEGMENT_SIZE, 3 * SEGMENT_SIZE, 1000):
        ciphertext = await joined(encrypt_stream(key, refilled(plaintext, size), CONTEXT))
        opened_again = await joined(decrypt_stream(key, refilled(ciphertext, size), CONTEXT))
        assert opened_again == plaintext


async def test_small_segments_round_trip_over_many_counters() -> None:
    key, plaintext = new_data_key(), plaintext_of(MIN_SEGMENT_SIZE * 300 + 5)
    ciphertext = await sealed(plaintext, key, segment_size=MIN_SEGMENT_SIZE)
    assert len(ciphertext) == ciphertext_size(len(plaintext), segment_size=MIN_SEGMENT_SIZE)
    assert await opened(ciphertext, key) == plaintext


def test_ciphertext_size_counts_the_header_and_one_tag_per_segment() -> None:
    assert ciphertext_size(0) == HEADER_BYTES + TAG_BYTES  # an empty document has one segment
    assert ciphertext_size(1) == HEADER_BYTES + 1 + TAG_BYTES
    assert ciphertext_size(SEGMENT_SIZE) == HEADER_BYTES + SEGMENT_SIZE + TAG_BYTES
    assert ciphertext_size(SEGMENT_SIZE + 1) == HEADER_BYTES + SEGMENT_SIZE + 1 + 2 * TAG_BYTES
    assert ciphertext_size(10 * 1024 * 1024) == HEADER_BYTES + 10 * 1024 * 1024 + 160 * TAG_BYTES


async def test_the_same_document_encrypts_differently_each_time() -> None:
    key, plaintext = new_data_key(), plaintext_of(1000)
    first, second = await sealed(plaintext, key), await sealed(plaintext, key)
    assert first != second and first[1:8] != second[1:8]  # a fresh nonce prefix
    assert await opened(first, key) == await opened(second, key) == plaintext


def test_data_keys_are_fresh_32_byte_keys() -> None:
    keys = {new_data_key() for _ in range(100)}
    assert len(keys) == 100 and {len(key) for key in keys} == {32}


# --- what must not open ----------------------------------------------------------------------

PLAINTEXT = os.urandom(3 * SEGMENT_SIZE + 1234)  # four segments, the last one short
EXACT = os.urandom(2 * SEGMENT_SIZE)  # two full segments: the last one is full too


def flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def header_and(header: bytes, parts: Sequence[bytes]) -> bytes:
    return header + b"".join(parts)


def tampered_streams() -> dict[str, Callable[[bytes, bytes], bytes]]:
    """Each a way to spoil a stream (``ciphertext``, ``other`` = another stream, same key)."""
    other_segment_size = (SEGMENT_SIZE * 2).to_bytes(4, "big")

    def segment_flip(index: int, offset: int) -> Callable[[bytes, bytes], bytes]:
        def spoil(ciphertext: bytes, other: bytes) -> bytes:
            header, parts = segments(ciphertext)
            parts[index] = flip(parts[index], offset % len(parts[index]))
            return header_and(header, parts)

        return spoil

    def reorder(ciphertext: bytes, other: bytes) -> bytes:
        header, parts = segments(ciphertext)
        parts[0], parts[1] = parts[1], parts[0]
        return header_and(header, parts)

    def drop(index: int) -> Callable[[bytes, bytes], bytes]:
        def spoil(ciphertext: bytes, other: bytes) -> bytes:
            header, parts = segments(ciphertext)
            del parts[index]
            return header_and(header, parts)

        return spoil

    def repeat_first(ciphertext: bytes, other: bytes) -> bytes:
        header, parts = segments(ciphertext)
        return header_and(header, [parts[0], *parts])

    def append_copy_of_last(ciphertext: bytes, other: bytes) -> bytes:
        return ciphertext + segments(ciphertext)[1][-1]

    def splice_other(ciphertext: bytes, other: bytes) -> bytes:
        header, parts = segments(ciphertext)
        parts[1] = segments(other)[1][1]
        return header_and(header, parts)

    def other_header(ciphertext: bytes, other: bytes) -> bytes:
        return other[:HEADER_BYTES] + ciphertext[HEADER_BYTES:]

    return {
        "version changed": lambda c, o: bytes([2]) + c[1:],
        "nonce prefix changed": lambda c, o: flip(c, 3),
        "segment size changed": lambda c, o: c[:8] + other_segment_size + c[12:],
        "first segment body": segment_flip(0, 100),
        "first segment tag": segment_flip(0, -1),
        "middle segment body": segment_flip(1, 0),
        "last segment body": segment_flip(-1, 0),
        "last segment tag": segment_flip(-1, -1),
        "segments reordered": reorder,
        "middle segment dropped": drop(1),
        "last segment dropped": drop(-1),
        "first segment replayed": repeat_first,
        "last segment repeated": append_copy_of_last,
        "segment from another stream": splice_other,
        "header from another stream": other_header,
        "cut inside the last segment": lambda c, o: c[:-5],
        "cut inside the tag of the last segment": lambda c, o: c[: -TAG_BYTES + 3],
        "cut inside a middle segment": lambda c, o: c[: HEADER_BYTES + SEALED_SEGMENT + 999],
        "cut after the header": lambda c, o: c[:HEADER_BYTES],
        "cut inside the header": lambda c, o: c[:5],
        "nothing at all": lambda c, o: b"",
        "a byte appended": lambda c, o: c + b"\x00",
        "a tag's worth appended": lambda c, o: c + bytes(TAG_BYTES),
    }


TAMPERS = tampered_streams()


@pytest.mark.parametrize("plaintext", [PLAINTEXT, EXACT], ids=["short last", "full last"])
@pytest.mark.parametrize("how", list(TAMPERS))
async def test_a_spoiled_stream_does_not_open(plaintext: bytes, how: str) -> None:
    key = new_data_key()
    ciphertext, other = await sealed(plaintext, key), await sealed(plaintext, key)
    spoiled = TAMPERS[how](ciphertext, other)
    assert spoiled != ciphertext
    with pytest.raises(SealBroken):
        await opened(spoiled, key)


@pytest.mark.parametrize(
    "spoil",
    [lambda c: c[:HEADER_BYTES], lambda c: c + b"\x00", lambda c: flip(c, HEADER_BYTES)],
    ids=["tag removed", "byte appended", "tag altered"],
)
async def test_an_empty_document_is_sealed_too(spoil: Callable[[bytes], bytes]) -> None:
    key = new_data_key()
    ciphertext = await sealed(b"", key)
    assert await opened(ciphertext, key) == b""
    with pytest.raises(SealBroken):
        await opened(spoil(ciphertext), key)


async def test_the_wrong_key_or_context_does_not_open() -> None:
    key = new_data_key()
    ciphertext = await sealed(PLAINTEXT, key)
    with pytest.raises(SealBroken):
        await opened(ciphertext, new_data_key())
    for context in (b"documents:another-id", CONTEXT + b"x", CONTEXT[:-1], b""):
        with pytest.raises(SealBroken):
            await opened(ciphertext, key, context)


async def test_only_genuine_whole_segments_come_out_before_a_break() -> None:
    """A reader (an HTTP response) sees the segments before the damage, then the error: it must
    end abnormally so the client never takes a cut document as whole."""
    key = new_data_key()
    header, parts = segments(await sealed(PLAINTEXT, key))
    parts[2] = flip(parts[2], 10)
    released: list[bytes] = []
    with pytest.raises(SealBroken):
        async for piece in decrypt_stream(
            key, pieces(header_and(header, parts), ODD_SIZES), CONTEXT
        ):
            released.append(piece)
    assert released == [PLAINTEXT[:SEGMENT_SIZE], PLAINTEXT[SEGMENT_SIZE : 2 * SEGMENT_SIZE]]


@pytest.mark.parametrize(
    "make", [lambda: os.urandom(16), lambda: b"", lambda: os.urandom(33)], ids=["16", "0", "33"]
)
async def test_keys_other_than_32_bytes_are_refused(make: Callable[[], bytes]) -> None:
    with pytest.raises(ValueError):
        await sealed(b"data", make())
    with pytest.raises(ValueError):
        await opened(await sealed(b"data", new_data_key()), make())


@pytest.mark.parametrize("segment_size", [MIN_SEGMENT_SIZE - 1, 8 * 1024 * 1024])
async def test_segment_sizes_out_of_bounds_are_refused(segment_size: int) -> None:
    with pytest.raises(ValueError):
        await sealed(b"data", new_data_key(), segment_size=segment_size)


# --- memory: pieces in, pieces out -------------------------------------------------------------


class MeteredSource:
    """An input stream that counts what it handed out and notices being closed."""

    def __init__(self, data: bytes, chunk: int) -> None:
        self.data, self.chunk = data, chunk
        self.handed_out = 0
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            for at in range(0, len(self.data), self.chunk):
                piece = self.data[at : at + self.chunk]
                self.handed_out += len(piece)
                yield piece
        finally:
            self.closed = True


async def test_ten_megabytes_pass_through_a_segment_at_a_time() -> None:
    key, plaintext = new_data_key(), plaintext_of(10 * 1024 * 1024)
    input_chunk = 8 * 1024

    source = MeteredSource(plaintext, input_chunk)
    encrypting = encrypt_stream(key, source, CONTEXT)
    assert inspect.isasyncgen(encrypting)
    ciphertext = bytearray(await anext(encrypting))
    assert len(ciphertext) == HEADER_BYTES and source.handed_out == 0
    sealed_in = 0
    async for piece in encrypting:
        assert len(piece) == SEALED_SEGMENT
        sealed_in += len(piece) - TAG_BYTES
        # taken from the source and not yet out: no more than the look-ahead chunk
        assert source.handed_out - sealed_in <= input_chunk
        ciphertext += piece
    assert sealed_in == len(plaintext)

    source = MeteredSource(bytes(ciphertext), input_chunk)
    decrypting = decrypt_stream(key, source, CONTEXT)
    assert inspect.isasyncgen(decrypting)
    released = 0
    sizes = []
    async for piece in decrypting:
        sizes.append(len(piece))
        assert piece == plaintext[released : released + len(piece)]
        released += len(piece)
        held = source.handed_out - HEADER_BYTES - released - len(sizes) * TAG_BYTES
        assert held <= input_chunk
    assert released == len(plaintext)
    assert sizes == [SEGMENT_SIZE] * 160  # one output per segment, none bigger


async def test_a_consumer_that_stops_early_closes_the_source() -> None:
    key = new_data_key()
    source = MeteredSource(await sealed(PLAINTEXT, key), 10_000)
    decrypting = decrypt_stream(key, source, CONTEXT)
    first = await anext(decrypting)
    assert first == PLAINTEXT[:SEGMENT_SIZE] and not source.closed
    await decrypting.aclose()  # the client went away
    assert source.closed and source.handed_out < len(source.data)


# --- the pieces together: the data key wrapped by the PHI keyring ------------------------------


async def test_a_document_key_wrapped_by_the_phi_keyring_opens_the_document() -> None:
    document_id = uuid.uuid4()
    wrap_context = f"documents.data_key:{document_id}"
    stream_context = f"documents:{document_id}".encode()
    k1 = os.urandom(32)
    old_keyring = PhiCipher({"k1": k1}, active_key_id="k1")

    data_key = new_data_key()
    wrapped = old_keyring.seal(data_key, wrap_context)  # stored in the documents row
    ciphertext = await sealed(PLAINTEXT, data_key, stream_context)  # stored on IPFS
    assert data_key not in wrapped.blob and wrapped.key_id == "k1"

    # later, after a key rotation began: the keyring holds the old key and a new active one
    keyring = PhiCipher({"k1": k1, "k2": os.urandom(32)}, active_key_id="k2")
    unwrapped = keyring.open(wrapped, wrap_context)
    assert await opened(ciphertext, unwrapped, stream_context) == PLAINTEXT
    assert keyring.needs_reseal(
        wrapped
    )  # the wrapped key re-seals; the IPFS bytes stay as they are

    with pytest.raises(SealBroken):  # a data key moved to another document's row does not open
        keyring.open(wrapped, f"documents.data_key:{uuid.uuid4()}")
    with pytest.raises(SealBroken):  # nor does one document's content under another's id
        await opened(ciphertext, unwrapped, f"documents:{uuid.uuid4()}".encode())
