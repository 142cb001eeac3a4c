"""CID computation and block-store throughput, against plain SHA-256 and plain files.

    .venv/bin/python -m bench.cid_speed [--sizes-mb 100,10] [--repeat 3] [--dir /tmp]

Measured in one run, over the same random bytes held in memory:

* CID: ``cid_of_bytes`` (the UnixFS importer counting only: 256 KiB chunks hashed,
  dag-pb nodes built and hashed) and ``UnixFsImporter`` keeping its blocks (what the
  block store does before writing), against ``hashlib.sha256`` over the whole buffer.
  The ratio is importer MB/s over sha256 MB/s: 1.0 means the CID costs no more than
  hashing the file once.
* Block store: ``add`` (chunked 64 KiB pieces in, blocks written with fsync, pinned)
  and ``cat`` (every block read back and checked against its CID), against writing
  the same bytes to one file with one fsync, and reading it back through sha256
  (cat verifies every block, so the baseline hashes too). Runs in a
  temporary folder under --dir (page cache warm for the reads, as in production
  right after an upload).

Best of --repeat runs each; MB here is 10^6 bytes.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import random
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from functools import partial
from pathlib import Path

from bench._support import figure, note, table
from domain.adapters.files.block_store import BlockStoreContentStore
from domain.adapters.files.unixfs import UnixFsImporter, cid_of_bytes

PIECE = 65_536  # what the store is fed at a time, as staged upload chunks arrive


def best_seconds(run: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def import_keeping_blocks(data: bytes) -> str:
    importer = UnixFsImporter()
    for start in range(0, len(data), PIECE):
        importer.feed(data[start : start + PIECE])
    return importer.finish()[0]


async def pieces(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), PIECE):
        yield data[start : start + PIECE]


async def store_round_trip(root: Path, data: bytes, expected_cid: str) -> tuple[float, float]:
    store = BlockStoreContentStore(root)
    started = time.perf_counter()
    cid = await store.add(pieces(data))
    added = time.perf_counter() - started
    if cid != expected_cid:
        raise RuntimeError("the block store made another CID than the importer")
    started = time.perf_counter()
    size = 0
    async for piece in store.cat(cid):
        size += len(piece)
    read = time.perf_counter() - started
    if size != len(data):
        raise RuntimeError("cat returned another size")
    await store.unpin(cid)
    return added, read


def plain_file_round_trip(root: Path, data: bytes) -> tuple[float, float]:
    path = root / "plain.bin"
    started = time.perf_counter()
    with open(path, "wb") as file:
        for start in range(0, len(data), PIECE):
            file.write(data[start : start + PIECE])
        file.flush()
        os.fsync(file.fileno())
    written = time.perf_counter() - started
    started = time.perf_counter()
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while piece := file.read(262_144):
            digest.update(piece)  # cat checks what it reads, so the baseline does too
    read = time.perf_counter() - started
    path.unlink()
    return written, read


def mb_per_s(size: int, seconds: float) -> str:
    return f"{size / 1e6 / seconds:,.0f}"


def measure(sizes: list[int], repeat: int, folder: str) -> list[dict[str, float]]:
    """Best seconds of each way, per size."""
    found: list[dict[str, float]] = []
    workdir = Path(tempfile.mkdtemp(prefix="hp-bench-cid-", dir=folder))
    try:
        for size in sizes:
            note(f"{size / 1e6:g} MB: generating random bytes")
            data = random.Random(size).randbytes(size)
            one = {
                "size": float(size),
                "sha256": best_seconds(partial(hashlib.sha256, data), repeat),
                "cid": best_seconds(partial(cid_of_bytes, data), repeat),
                "kept": best_seconds(partial(import_keeping_blocks, data), repeat),
            }
            note(f"{size / 1e6:g} MB: block store add + cat in {workdir}")
            expected = cid_of_bytes(data)
            best_add = best_cat = best_write = best_read = float("inf")
            for run in range(repeat):
                store_root = workdir / f"store-{run}"
                added, read = asyncio.run(store_round_trip(store_root, data, expected))
                written, plain_read = plain_file_round_trip(workdir, data)
                best_add, best_cat = min(best_add, added), min(best_cat, read)
                best_write, best_read = min(best_write, written), min(best_read, plain_read)
                shutil.rmtree(store_root, ignore_errors=True)
            one |= {"add": best_add, "cat": best_cat, "write": best_write, "read": best_read}
            found.append(one)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return found


def figures(*, quick: bool = False) -> dict[str, object]:
    """The runner's view: CID and block-store MB/s against sha256 and a plain file."""
    sizes, repeat = ([10_000_000], 3) if quick else ([100_000_000, 10_000_000], 5)
    found = measure(sizes, repeat, tempfile.gettempdir())
    rows = []
    for one in found:
        size = one["size"]
        mb = f"{size / 1e6:g} MB"
        rows += [
            figure(
                f"CID computation, {mb}",
                size / 1e6 / one["cid"],
                "MB/s",
                baseline=size / 1e6 / one["sha256"],
                baseline_name="hashlib.sha256",
                ratio=one["sha256"] / one["cid"],
            ),
            figure(
                f"block store add, {mb}",
                size / 1e6 / one["add"],
                "MB/s",
                baseline=size / 1e6 / one["write"],
                baseline_name="one plain file + fsync",
                ratio=one["write"] / one["add"],
            ),
        ]
    return {"bench": "cid_speed", "repeat": repeat, "sizes": found, "rows": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cid_speed", description=__doc__)
    parser.add_argument("--sizes-mb", default="100,10", help="comma-separated sizes in MB")
    parser.add_argument("--repeat", type=int, default=5, help="runs per figure (best is kept)")
    parser.add_argument("--dir", default=tempfile.gettempdir(), help="where the store writes")
    args = parser.parse_args(argv)
    sizes = [int(float(size) * 1e6) for size in args.sizes_mb.split(",")]
    if not all(1 <= size <= 2_000_000_000 for size in sizes) or not 1 <= args.repeat <= 20:
        parser.error("--sizes-mb must be 0.000001-2000 each and --repeat 1-20")

    cid_rows: list[list[object]] = []
    store_rows: list[list[object]] = []
    for one in measure(sizes, args.repeat, args.dir):
        size = int(one["size"])
        cid_rows.append(
            [
                f"{size / 1e6:g}",
                mb_per_s(size, one["sha256"]),
                mb_per_s(size, one["cid"]),
                f"{one['sha256'] / one['cid']:.2f}",
                mb_per_s(size, one["kept"]),
                f"{one['sha256'] / one['kept']:.2f}",
            ]
        )
        store_rows.append(
            [
                f"{size / 1e6:g}",
                mb_per_s(size, one["write"]),
                mb_per_s(size, one["add"]),
                f"{one['write'] / one['add']:.2f}",
                mb_per_s(size, one["read"]),
                mb_per_s(size, one["cat"]),
                f"{one['read'] / one['cat']:.2f}",
            ]
        )

    print(f"CID computation, best of {args.repeat} (MB/s; ratio = importer / sha256)")
    print()
    headers = ["MB", "sha256", "cid_of_bytes", "ratio", "importer+blocks", "ratio"]
    print(table(headers, cid_rows))
    print()
    print(
        f"block store in {args.dir}, best of {args.repeat} (MB/s; baseline = one plain file, "
        "one fsync; ratio = store / baseline)"
    )
    print()
    headers = ["MB", "file write", "store add", "ratio", "file read+sha256", "store cat", "ratio"]
    print(table(headers, store_rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
