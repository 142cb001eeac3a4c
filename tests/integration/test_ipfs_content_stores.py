"""The ContentStore port's promises, held by both stores: a real IPFS node and the block store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from multiformats import CID

from domain.adapters.files.block_store import BlockStoreContentStore
from domain.adapters.files.ipfs_node import KuboContentStore
from domain.adapters.files.unixfs import CHUNK_SIZE, cid_of_bytes
from domain.errors import ContentMissing
from domain.files.ports import ContentStore
from tests.support.ipfs_node import payload, pieces, read_all


@pytest.fixture(params=["ipfs-node", "block-store"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ContentStore]:
    if request.param == "ipfs-node":
        url = request.getfixturevalue("ipfs_api_url")
        chosen: ContentStore = KuboContentStore(url, timeout_seconds=30.0)
    else:
        chosen = BlockStoreContentStore(tmp_path / "ipfs")
    try:
        yield chosen
    finally:
        await chosen.close()


@pytest.mark.parametrize("size", [0, 1, 1_000, CHUNK_SIZE, CHUNK_SIZE + 1, 3_000_000])
async def test_cat_gives_back_exactly_what_was_added(store: ContentStore, size: int) -> None:
    data = payload(size, seed=b"round trip %d" % size)
    cid = await store.add(pieces(data, 65_537))
    assert cid == cid_of_bytes(data)
    assert await read_all(store.cat(cid)) == data


async def test_cat_streams_in_pieces(store: ContentStore) -> None:
    data = payload(3_000_000, seed=b"pieces")
    cid = await store.add(pieces(data))
    sizes = [len(piece) async for piece in store.cat(cid)]
    assert sum(sizes) == len(data)
    assert len(sizes) > 1 and max(sizes) <= CHUNK_SIZE


async def test_adding_again_gives_the_same_cid(store: ContentStore) -> None:
    data = payload(600_000, seed=b"twice")
    first = await store.add(pieces(data))
    assert await store.add(pieces(data, 4_096)) == first
    assert await read_all(store.cat(first)) == data


async def test_a_cid_in_another_text_form_reaches_the_same_content(store: ContentStore) -> None:
    data = payload(1_000, seed=b"base58")
    cid = await store.add(pieces(data))
    base58 = CID.decode(cid).encode("base58btc")  # how js-ipfs writes CIDv1
    assert await read_all(store.cat(base58)) == data


async def test_an_unknown_cid_is_missing(store: ContentStore) -> None:
    never_added = cid_of_bytes(b"never added anywhere " + payload(32, seed=b"unknown"))
    with pytest.raises(ContentMissing):
        await read_all(store.cat(never_added))


@pytest.mark.parametrize("text", ["not-a-cid", "", "../../etc/passwd"])
async def test_text_that_is_not_a_cid_is_missing(store: ContentStore, text: str) -> None:
    with pytest.raises(ContentMissing):
        await read_all(store.cat(text))
    await store.unpin(text)  # nothing to forget: harmless


async def test_unpinned_content_is_gone_and_unpin_is_idempotent(store: ContentStore) -> None:
    data = payload(700_000, seed=b"unpin")
    cid = await store.add(pieces(data))
    await store.unpin(cid)
    with pytest.raises(ContentMissing):
        await read_all(store.cat(cid))
    await store.unpin(cid)
    assert await store.add(pieces(data)) == cid  # and it can come back
    assert await read_all(store.cat(cid)) == data


async def test_a_failing_source_fails_the_add_with_its_own_error(store: ContentStore) -> None:
    class SourceBroke(Exception):
        pass

    async def broken() -> AsyncIterator[bytes]:
        yield payload(300_000, seed=b"broken")
        raise SourceBroke("the staged upload could not be read")

    with pytest.raises(SourceBroke):
        await store.add(broken())


async def test_ping_answers(store: ContentStore) -> None:
    await store.ping()
