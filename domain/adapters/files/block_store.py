"""The embedded content store: IPFS blocks as files, used when no IPFS_API_URL is set.

Why blocks and not whole files: the store builds exactly the blocks a Kubo node
would (``domain.adapters.files.unixfs``), so a record keeps its CID if it later moves
to a node (its blocks can be imported as they are) and the CID is the same
whichever store computed it.

Layout under ``root``:

- ``blocks/<xy>/<cid>``: one file per block, named by its base32 CIDv1 and sharded
  by the two characters before the CID's last one (as Kubo's flatfs does), so no
  folder grows huge. Written to a temporary name, fsynced, then renamed: a block
  file is complete or absent.
- ``refs/<root cid>/<block cid>``: a hard link to each distinct block of a pinned
  file. A block's link count is thus 1 + the number of pinned files that use it,
  which lets ``unpin`` delete exactly the blocks no other pin needs, reading
  nothing but its own folder.
- ``pins/<root cid>``: the pin, written last (its presence is what "stored" means).

A limit of the link count: a block shared by more pinned files than the file
system allows links (65,000 on ext4) cannot be pinned once more; the add then
raises ContentUnavailable. Only identical 256 KiB-aligned chunks are shared, which
client-encrypted records never have.

Concurrency: API and worker processes share the folder. Adds take a shared
lock on ``root/lock`` for their whole run, ``unpin`` and ``collect_garbage``
an exclusive one, so a block an add has just found present cannot be deleted
under it. Locks are taken without blocking a thread (polled), so waiting for
one never starves the thread pool the other side needs to finish.

``cat`` reads without a lock: content unpinned while it streams ends in
ContentMissing. Every block read is checked against its CID.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import hashlib
import os
import secrets
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from domain.adapters.files.unixfs import (
    DAG_PB,
    RAW,
    SHA2_256,
    Block,
    UnixFsImporter,
    cid_codec,
    cid_digest,
    cid_from_text,
    cid_text,
    decode_file_node,
    normalize_cid,
)
from domain.errors import ContentMissing, ContentUnavailable

T = TypeVar("T")
LOCK_POLL_SECONDS = 0.02


def _unavailable() -> ContentUnavailable:
    return ContentUnavailable("the block store cannot be used", code="content_store_unavailable")


def _missing() -> ContentMissing:
    return ContentMissing("no content under that CID")


class BlockStoreContentStore:
    """ContentStore in a folder; the same CIDs as a Kubo node with ``cid-version=1``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._blocks = self.root / "blocks"
        self._refs = self.root / "refs"
        self._pins = self.root / "pins"

    # --- the port ---------------------------------------------------------------

    async def add(self, chunks: AsyncIterable[bytes]) -> str:
        importer = UnixFsImporter()
        async with self._lock(fcntl.LOCK_SH):
            written: list[str] = []  # every block's CID, to link under the root once known
            async for chunk in chunks:  # the caller's errors pass through as they are
                blocks = importer.feed(chunk)
                if blocks:
                    await _in_thread(self._write_blocks, blocks)
                    written.extend(cid for cid, _ in blocks)
            root, blocks = importer.finish()
            await _in_thread(self._write_blocks, blocks)
            written.extend(cid for cid, _ in blocks)
            await _in_thread(self._pin, root, written)
        return root

    async def cat(self, cid: str) -> AsyncIterator[bytes]:
        key = _key(cid)
        pinned = await _in_thread((self._pins / key).exists)
        if not pinned:
            raise _missing()
        pending = [key]  # blocks still to visit, the next one last
        while pending:
            block_cid = pending.pop()
            codec, block = await asyncio.to_thread(self._read_block, block_cid)
            if codec == RAW:
                if block:
                    yield block
                continue
            try:
                node = decode_file_node(block)
            except ValueError:  # a directory or some other DAG: not a file's content
                raise _missing() from None
            if node.data:
                yield node.data
            pending.extend(cid_text(link) for link in reversed(node.links))

    async def unpin(self, cid: str) -> None:
        try:
            key = normalize_cid(cid)
        except ValueError:
            return
        async with self._lock(fcntl.LOCK_EX):
            await _in_thread(self._unpin, key)

    async def ping(self) -> None:
        await _in_thread(self._ensure_folders)

    async def close(self) -> None:
        return None

    async def collect_garbage(self) -> int:
        """Remove what interrupted adds left behind: link folders with no pin, unlinked blocks.

        Not needed for correctness (``unpin`` frees blocks itself); returns blocks removed.
        """
        async with self._lock(fcntl.LOCK_EX):
            return await _in_thread(self._collect_garbage)

    # --- blocking file work, run in threads ---------------------------------------

    def _block_path(self, cid: str) -> Path:
        return self._blocks / cid[-3:-1] / cid

    def _ensure_folders(self) -> None:
        for folder in (self._blocks, self._refs, self._pins):
            folder.mkdir(parents=True, exist_ok=True)
        if not os.access(self.root, os.W_OK):
            raise PermissionError(errno.EACCES, "the block store folder is not writable")

    def _write_blocks(self, blocks: list[Block]) -> None:
        folders: set[Path] = set()
        for cid, data in blocks:
            path = self._block_path(cid)
            if path.exists():  # content-addressed: the same name holds the same bytes
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            _write_durably(path, data)
            folders.add(path.parent)
        for folder in folders:
            _fsync_folder(folder)

    def _pin(self, root: str, cids: list[str]) -> None:
        links = self._refs / root
        links.mkdir(parents=True, exist_ok=True)
        for cid in set(cids):
            with contextlib.suppress(FileExistsError):  # pinned before: already linked
                os.link(self._block_path(cid), links / cid)
        _fsync_folder(links)
        self._pins.mkdir(parents=True, exist_ok=True)
        _write_durably(self._pins / root, b"")
        _fsync_folder(self._pins)

    def _unpin(self, root: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self._pins / root).unlink()
            _fsync_folder(self._pins)
        self._release(self._refs / root)

    def _release(self, links: Path) -> int:
        """Drop a file's links; delete each block left with no other; returns blocks deleted."""
        deleted = 0
        with contextlib.suppress(FileNotFoundError):
            for link in links.iterdir():
                block = self._block_path(link.name)
                link.unlink()
                with contextlib.suppress(FileNotFoundError):
                    if block.stat().st_nlink == 1:
                        block.unlink()
                        deleted += 1
            links.rmdir()
        return deleted

    def _collect_garbage(self) -> int:
        deleted = 0
        if self._refs.is_dir():
            for links in self._refs.iterdir():
                if not (self._pins / links.name).exists():
                    deleted += self._release(links)
        for temporary in self._pins.glob(".tmp-*"):
            temporary.unlink()
        for block in _files_under(self._blocks):
            if block.name.startswith(".tmp-"):
                block.unlink()
            elif block.stat().st_nlink == 1:
                block.unlink()
                deleted += 1
        return deleted

    def _read_block(self, cid: str) -> tuple[int, bytes]:
        """A block's codec and bytes, checked against its CID."""
        try:
            data = self._block_path(cid).read_bytes()
        except FileNotFoundError:
            raise _missing() from None
        except OSError:
            raise _unavailable() from None
        binary = cid_from_text(cid)
        function, digest = cid_digest(binary)
        if function != SHA2_256 or hashlib.sha256(data).digest() != digest:
            raise ContentUnavailable(
                "a stored block does not match its CID", code="content_corrupt"
            )
        codec = cid_codec(binary)
        if codec not in (RAW, DAG_PB):
            raise _missing()
        return codec, data

    # --- the folder lock ----------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _lock(self, kind: int) -> AsyncIterator[None]:
        fd = await _in_thread(self._open_lock)
        try:
            while True:
                try:
                    fcntl.flock(fd, kind | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    await asyncio.sleep(LOCK_POLL_SECONDS)
            yield
        finally:
            os.close(fd)  # releases the lock

    def _open_lock(self) -> int:
        self._ensure_folders()
        return os.open(self.root / "lock", os.O_RDWR | os.O_CREAT, 0o600)


async def _in_thread(function: Callable[..., T], *args: Any) -> T:
    """Blocking file work off the event loop; the file system's errors become ours."""
    try:
        return await asyncio.to_thread(function, *args)
    except OSError:
        raise _unavailable() from None


def _write_durably(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".tmp-{secrets.token_hex(8)}-{path.name}")
    try:
        with open(temporary, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _files_under(folder: Path) -> Iterator[Path]:
    if folder.is_dir():
        for shard in folder.iterdir():
            if shard.is_dir():
                yield from (path for path in shard.iterdir() if path.is_file())


def _key(cid: str) -> str:
    try:
        return normalize_cid(cid)
    except ValueError:
        raise _missing() from None
