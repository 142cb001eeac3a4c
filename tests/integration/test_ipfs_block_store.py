"""The embedded block store: the node's very blocks, shared blocks, damage, locking, leftovers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from domain.adapters.files.block_store import BlockStoreContentStore
from domain.adapters.files.unixfs import CHUNK_SIZE
from domain.errors import ContentMissing, ContentUnavailable
from tests.support.ipfs_node import node_add, payload, pieces, read_all


def block_files(root: Path) -> dict[str, Path]:
    return {path.name: path for path in (root / "blocks").rglob("*") if path.is_file()}


async def test_its_blocks_are_the_nodes_blocks_byte_for_byte(
    ipfs_api_url: str, block_store: BlockStoreContentStore
) -> None:
    data = payload(3 * CHUNK_SIZE + 99, seed=b"same blocks")
    root = await block_store.add(pieces(data))
    assert await node_add(ipfs_api_url, data) == root
    ours = block_files(block_store.root)
    async with httpx.AsyncClient(base_url=f"{ipfs_api_url}/api/v0", timeout=30) as node:
        refs = await node.post("refs", params={"arg": root, "recursive": "true"})
        refs.raise_for_status()
        assert len(refs.text.splitlines()) + 1 == len(ours) == 5  # 4 leaves + the root
        for cid, path in ours.items():
            answer = await node.post("block/get", params={"arg": cid})
            answer.raise_for_status()
            assert answer.content == path.read_bytes(), cid


async def test_unpin_keeps_blocks_another_pin_still_uses(tmp_path: Path) -> None:
    store = BlockStoreContentStore(tmp_path)
    shared = payload(CHUNK_SIZE, seed=b"shared chunk")
    first = shared + payload(CHUNK_SIZE + 10, seed=b"first")
    second = shared + payload(20, seed=b"second")
    first_cid = await store.add(pieces(first))
    second_cid = await store.add(pieces(second))
    assert len(block_files(tmp_path)) == 4 + 3 - 1  # the shared leaf is stored once

    await store.unpin(first_cid)
    assert len(block_files(tmp_path)) == 3
    assert await read_all(store.cat(second_cid)) == second

    await store.unpin(second_cid)
    assert block_files(tmp_path) == {}
    assert list((tmp_path / "pins").iterdir()) == []
    assert list((tmp_path / "refs").iterdir()) == []


async def test_a_damaged_block_is_reported_not_served(tmp_path: Path) -> None:
    store = BlockStoreContentStore(tmp_path)
    data = payload(2 * CHUNK_SIZE, seed=b"damaged")
    cid = await store.add(pieces(data))
    leaf = next(path for name, path in block_files(tmp_path).items() if name != cid)
    damaged = bytearray(leaf.read_bytes())
    damaged[1000] ^= 0xFF
    leaf.write_bytes(damaged)
    with pytest.raises(ContentUnavailable) as raised:
        await read_all(store.cat(cid))
    assert raised.value.code == "content_corrupt"


async def test_a_lost_block_is_missing_content(tmp_path: Path) -> None:
    store = BlockStoreContentStore(tmp_path)
    data = payload(2 * CHUNK_SIZE, seed=b"lost")
    cid = await store.add(pieces(data))
    leaf = next(path for name, path in block_files(tmp_path).items() if name != cid)
    leaf.unlink()
    with pytest.raises(ContentMissing):
        await read_all(store.cat(cid))


async def test_unpin_waits_for_an_add_that_needs_a_shared_block(tmp_path: Path) -> None:
    store = BlockStoreContentStore(tmp_path)
    shared = payload(CHUNK_SIZE, seed=b"in flight")
    old_cid = await store.add(pieces(shared + b"old"))
    shared_leaf_written = asyncio.Event()
    finish_add = asyncio.Event()

    async def slow_source() -> AsyncIterator[bytes]:
        yield shared + b"n"  # the shared leaf is complete now: the add found it on disk
        shared_leaf_written.set()
        await finish_add.wait()
        yield b"ew"

    adding = asyncio.create_task(store.add(slow_source()))
    await shared_leaf_written.wait()
    unpinning = asyncio.create_task(store.unpin(old_cid))
    await asyncio.sleep(0.2)
    assert not unpinning.done()  # held off by the add's shared lock
    finish_add.set()
    new_cid = await adding
    await unpinning
    assert await read_all(store.cat(new_cid)) == shared + b"new"
    with pytest.raises(ContentMissing):
        await read_all(store.cat(old_cid))


async def test_collect_garbage_removes_what_an_interrupted_add_left(tmp_path: Path) -> None:
    store = BlockStoreContentStore(tmp_path)
    kept = payload(CHUNK_SIZE + 1, seed=b"kept")
    kept_cid = await store.add(pieces(kept))

    async def interrupted() -> AsyncIterator[bytes]:
        yield payload(3 * CHUNK_SIZE, seed=b"interrupted")
        raise ConnectionResetError("the client went away")

    with pytest.raises(ConnectionResetError):
        await store.add(interrupted())
    assert len(block_files(tmp_path)) == 3 + 3  # the kept file's, and three orphans
    assert await store.collect_garbage() == 3
    assert len(block_files(tmp_path)) == 3
    assert await read_all(store.cat(kept_cid)) == kept


async def test_an_unusable_folder_makes_the_store_unavailable(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_bytes(b"")
    store = BlockStoreContentStore(not_a_folder)
    with pytest.raises(ContentUnavailable):
        await store.ping()
    with pytest.raises(ContentUnavailable):
        await store.add(pieces(b"data"))
