"""Our CIDs against a real IPFS node's: the importer, the node adapter and the block store.

The node's CID is asked for with a plain ``add --cid-version=1`` (no adapter of ours in
between), so these tests hold whatever the adapters check themselves.
"""

from __future__ import annotations

import pytest

from domain.adapters.files.block_store import BlockStoreContentStore
from domain.adapters.files.ipfs_node import KuboContentStore
from domain.adapters.files.unixfs import CHUNK_SIZE, MAX_LINKS, cid_of, cid_of_bytes
from tests.support.ipfs_node import node_add, payload, pieces, read_all

SIZES = [0, 1, 1_000, 262_143, 262_144, 262_145, 3_000_000, 10_000_000]


@pytest.mark.parametrize("size", SIZES)
async def test_every_store_gives_the_nodes_cid(
    size: int,
    ipfs_api_url: str,
    kubo_store: KuboContentStore,
    block_store: BlockStoreContentStore,
) -> None:
    data = payload(size, seed=b"cid-%d" % size)
    node = await node_add(ipfs_api_url, data)
    assert cid_of_bytes(data) == node
    assert await cid_of(pieces(data)) == node
    assert await kubo_store.add(pieces(data)) == node
    assert await block_store.add(pieces(data)) == node


async def test_a_file_of_more_than_174_chunks(
    ipfs_api_url: str, kubo_store: KuboContentStore, block_store: BlockStoreContentStore
) -> None:
    data = payload((MAX_LINKS + 1) * CHUNK_SIZE + 12_345, seed=b"two levels")  # ~46 MB
    node = await node_add(ipfs_api_url, data)
    assert cid_of_bytes(data) == node
    assert await kubo_store.add(pieces(data, 1_000_000)) == node
    assert await block_store.add(pieces(data, 1_000_000)) == node
    # a two-level DAG read back from the block store, and from the node
    assert await read_all(block_store.cat(node)) == data
    assert await read_all(kubo_store.cat(node)) == data
