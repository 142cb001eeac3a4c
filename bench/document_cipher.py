"""What segmenting costs: streaming AES-256-GCM against one-shot AES-GCM on the same bytes.

    .venv/bin/python -m bench.document_cipher [--megabytes 10] [--rounds 7] [--chunk-kib 64]

The same random plaintext (a document at the upload limit by default) is
sealed and opened four ways in one process, on one event loop, in this order
each round:

* one-shot: ``AESGCM.encrypt`` / ``decrypt`` of the whole buffer under one
  nonce; the floor (the AES-NI work itself) and no way to stream a download.
* stream: ``domain.adapters.documents.stream_cipher.encrypt_stream`` / ``decrypt_stream``
  fed ``--chunk-kib`` chunks from an async generator (as the upload store and
  the content store hand them over), output joined as a consumer would.

The figure per way is the median of --rounds timings (MB = 10^6 bytes); the
ratio is stream MB/s over one-shot MB/s from this same run. Nothing else is
started; no IO. Every stream output is checked against the plaintext.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bench._support import figure, note, table
from domain.adapters.documents.stream_cipher import (
    SEGMENT_SIZE,
    ciphertext_size,
    decrypt_stream,
    encrypt_stream,
    new_data_key,
)

CONTEXT = b"documents:bench"


async def chunked(data: bytes, size: int) -> AsyncIterator[bytes]:
    view = memoryview(data)
    for at in range(0, len(data), size):
        yield bytes(view[at : at + size])


async def timed(run: Callable[[], Awaitable[bytes]]) -> tuple[float, bytes]:
    started = time.perf_counter()
    out = await run()
    return time.perf_counter() - started, out


async def measure(args: argparse.Namespace) -> dict[str, list[float]]:
    plaintext = os.urandom(args.megabytes * 1_000_000)
    key = new_data_key()
    aead = AESGCM(key)
    nonce = os.urandom(12)
    chunk = args.chunk_kib * 1024
    one_shot_sealed = aead.encrypt(nonce, plaintext, CONTEXT)
    streamed = b""

    async def one_shot_encrypt() -> bytes:
        return aead.encrypt(nonce, plaintext, CONTEXT)

    async def one_shot_decrypt() -> bytes:
        return aead.decrypt(nonce, one_shot_sealed, CONTEXT)

    async def stream_encrypt() -> bytes:
        pieces = [p async for p in encrypt_stream(key, chunked(plaintext, chunk), CONTEXT)]
        return b"".join(pieces)

    async def stream_decrypt() -> bytes:
        pieces = [p async for p in decrypt_stream(key, chunked(streamed, chunk), CONTEXT)]
        return b"".join(pieces)

    seconds: dict[str, list[float]] = {
        "one-shot encrypt": [],
        "stream encrypt": [],
        "one-shot decrypt": [],
        "stream decrypt": [],
    }
    for round_number in range(args.rounds):
        note(f"round {round_number + 1}/{args.rounds}")
        took, _ = await timed(one_shot_encrypt)
        seconds["one-shot encrypt"].append(took)
        took, streamed = await timed(stream_encrypt)
        seconds["stream encrypt"].append(took)
        if len(streamed) != ciphertext_size(len(plaintext)):
            raise AssertionError("the stream ciphertext has the wrong size")
        took, _ = await timed(one_shot_decrypt)
        seconds["one-shot decrypt"].append(took)
        took, opened = await timed(stream_decrypt)
        seconds["stream decrypt"].append(took)
        if opened != plaintext:
            raise AssertionError("the stream did not round-trip")
    return seconds


def figures(*, quick: bool = False) -> dict[str, object]:
    """The runner's view: streaming AES-GCM MB/s against one-shot AES-GCM (medians)."""
    args = argparse.Namespace(megabytes=10, rounds=3 if quick else 7, chunk_kib=64)
    seconds = asyncio.run(measure(args))
    rate = {way: args.megabytes / statistics.median(times) for way, times in seconds.items()}
    rows = [
        figure(
            f"document cipher, stream {step}, {args.megabytes} MB",
            rate[f"stream {step}"],
            "MB/s",
            baseline=rate[f"one-shot {step}"],
            baseline_name=f"one-shot AES-GCM {step}",
            ratio=rate[f"stream {step}"] / rate[f"one-shot {step}"],
        )
        for step in ("encrypt", "decrypt")
    ]
    return {"bench": "document_cipher", "rounds": args.rounds, "seconds": seconds, "rows": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.document_cipher", description=__doc__)
    parser.add_argument("--megabytes", type=int, default=10, help="plaintext size (10^6 bytes)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--chunk-kib", type=int, default=64, help="input chunk size, KiB")
    args = parser.parse_args(argv)
    if not 1 <= args.megabytes <= 1_000:
        parser.error("--megabytes must be between 1 and 1,000")
    if not 1 <= args.rounds <= 100 or not 1 <= args.chunk_kib <= 16_384:
        parser.error("--rounds must be 1..100 and --chunk-kib 1..16,384")

    seconds = asyncio.run(measure(args))
    megabytes = args.megabytes
    rate = {way: megabytes / statistics.median(times) for way, times in seconds.items()}

    overhead = ciphertext_size(megabytes * 1_000_000) - megabytes * 1_000_000
    print(
        f"document cipher: {megabytes} MB random plaintext, {args.rounds} rounds (median), "
        f"{args.chunk_kib} KiB input chunks, {SEGMENT_SIZE // 1024} KiB segments, "
        f"{os.cpu_count()} CPUs; stream overhead {overhead:,} bytes"
    )
    print()
    rows = [
        [
            way,
            f"{statistics.median(times) * 1000:.1f}",
            f"{min(times) * 1000:.1f}",
            f"{rate[way]:,.0f}",
        ]
        for way, times in seconds.items()
    ]
    print(table(["way", "median ms", "best ms", "MB/s (median)"], rows))
    print()
    for step in ("encrypt", "decrypt"):
        ratio = rate[f"stream {step}"] / rate[f"one-shot {step}"]
        print(f"ratio stream/one-shot, {step} MB/s: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
