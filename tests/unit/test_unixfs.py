"""The UnixFS importer against CIDs recorded from a real node, and its block structure.

The recorded CIDs come from js-ipfs 0.66 (``ipfs add --cid-version=1``) over the bytes
``payload(size)`` makes; the integration tests check the same against the live node.
"""

from __future__ import annotations

import hashlib
import random
import tracemalloc
from collections.abc import AsyncIterator

import pytest
from multiformats import CID

from domain.adapters.files.unixfs import (
    CHUNK_SIZE,
    DAG_PB,
    MAX_LINKS,
    RAW,
    UnixFsImporter,
    _platform_cid,
    cid_binary,
    cid_codec,
    cid_from_text,
    cid_of,
    cid_of_bytes,
    cid_text,
    decode_file_node,
    is_cid,
    normalize_cid,
)

EMPTY_RAW = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
RECORDED = {
    0: EMPTY_RAW,
    1: "bafkreic4mlqjdogakzprxl5nbwwvsnbhmfb24lgo66stqhuk3jnrvdjg2i",
    262_144: "bafkreifcewkcw5amqx5hxmu5rcyx4herrcc5duo3hbyzt5ubu53igdg36a",
    262_145: "bafybeidp3kxwux53fiytwoojbvpqqoul77kf6x5qjibrwputwsdwaxut2y",
    1_000_000: "bafybeici6gtd2nqz42ex5dcf2ujeijtuepm5jwemkkmpgnm34pxloeifwe",
    174 * CHUNK_SIZE: "bafybeiagkjm6fs24zcvnegiq67uew26hfssytf5ca4yz5kmpuyfmxkmace",
    175 * CHUNK_SIZE + 5: "bafybeidbv2ag5d6id5y6kcztagjk2sudo47w5kbk476hhwxe6l4hbhgida",
}
THREE_ZERO_CHUNKS = "bafybeid46owk5sqnqfthygjki6atev4vaydr46nkmrseb2awrepry3k5hu"


def payload(size: int, seed: bytes = b"unixfs") -> bytes:
    """Deterministic bytes on every platform and Python version."""
    return hashlib.shake_256(seed).digest(size) if size else b""


def import_in_pieces(data: bytes, piece: int) -> tuple[str, list[tuple[str, bytes]]]:
    importer = UnixFsImporter()
    blocks: list[tuple[str, bytes]] = []
    for start in range(0, len(data), piece):
        blocks += importer.feed(data[start : start + piece])
    root, rest = importer.finish()
    return root, blocks + rest


@pytest.mark.parametrize("size", sorted(RECORDED))
def test_cid_matches_the_one_recorded_from_the_node(size: int) -> None:
    assert cid_of_bytes(payload(size)) == RECORDED[size]


def test_identical_chunks_give_the_recorded_cid() -> None:
    assert cid_of_bytes(bytes(3 * CHUNK_SIZE)) == THREE_ZERO_CHUNKS


@pytest.mark.parametrize("piece", [1_000, 65_536, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 7])
def test_how_the_bytes_are_cut_does_not_change_the_blocks(piece: int) -> None:
    data = payload(3 * CHUNK_SIZE + 12_345)
    whole = import_in_pieces(data, len(data))
    assert import_in_pieces(data, piece) == whole
    assert whole[0] == cid_of_bytes(data)


def test_every_block_is_named_by_its_hash_and_the_tree_is_balanced() -> None:
    data = payload(175 * CHUNK_SIZE + 5)  # 176 chunks: two levels of dag-pb nodes
    root, blocks = import_in_pieces(data, 1_000_000)
    by_cid = dict(blocks)
    assert len(by_cid) == len(blocks) == 176 + 2 + 1  # leaves, two level-1 nodes, the root
    for cid, block in blocks:
        binary = cid_from_text(cid)
        assert cid_binary(cid_codec(binary), block) == binary
    top = decode_file_node(by_cid[root])
    assert len(top.links) == 2 and top.data == b""
    first, second = (decode_file_node(by_cid[cid_text(link)]) for link in top.links)
    assert len(first.links) == MAX_LINKS and len(second.links) == 2
    leaves = [by_cid[cid_text(link)] for link in first.links + second.links]
    assert all(cid_codec(link) == RAW for link in first.links + second.links)
    assert b"".join(leaves) == data
    assert cid_codec(cid_from_text(root)) == DAG_PB


def test_a_single_chunk_file_is_its_raw_leaf() -> None:
    data = payload(CHUNK_SIZE)
    root, blocks = import_in_pieces(data, 100_000)
    assert blocks == [(root, data)]
    assert root.startswith("bafk")


def test_the_empty_file_is_the_empty_raw_block() -> None:
    importer = UnixFsImporter()
    assert importer.feed(b"") == []
    assert importer.finish() == (EMPTY_RAW, [(EMPTY_RAW, b"")])


def test_blocks_are_returned_as_soon_as_they_are_complete() -> None:
    importer = UnixFsImporter()
    assert importer.feed(payload(CHUNK_SIZE - 1)) == []
    completed = importer.feed(payload(2))
    assert [len(block) for _, block in completed] == [CHUNK_SIZE]


def test_counting_mode_returns_no_blocks() -> None:
    importer = UnixFsImporter(blocks=False)
    assert importer.feed(payload(3 * CHUNK_SIZE)) == []
    assert importer.finish() == (cid_of_bytes(payload(3 * CHUNK_SIZE)), [])


def test_a_finished_importer_takes_no_more_bytes() -> None:
    importer = UnixFsImporter()
    importer.finish()
    with pytest.raises(RuntimeError):
        importer.feed(b"more")
    with pytest.raises(RuntimeError):
        importer.finish()


async def test_cid_of_reads_an_async_stream() -> None:
    data = payload(1_000_000)

    async def pieces() -> AsyncIterator[bytes]:
        for start in range(0, len(data), 77_777):
            yield data[start : start + 77_777]

    assert await cid_of(pieces()) == RECORDED[1_000_000]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # js-ipfs answers CIDv1 in base58btc
        ("zb2rhmy65F3REf8SZp7De11gxtECBGgUKaLdiDj7MCGCHxbDW", EMPTY_RAW),
        # CIDv0 (Kubo's default add): the same dag-pb block, as CIDv1
        (
            "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH",
            "bafybeif7ztnhq65lumvvtr4ekcwd2ifwgm3awq4zfr3srh462rwyinlb4y",
        ),
        (EMPTY_RAW.upper(), EMPTY_RAW),  # base32upper, multibase prefix "B"
        (f"  {EMPTY_RAW}\n", EMPTY_RAW),
        (EMPTY_RAW, EMPTY_RAW),
    ],
)
def test_normalize_cid(text: str, expected: str) -> None:
    assert normalize_cid(text) == expected
    assert is_cid(text)


@pytest.mark.parametrize(
    "text", ["", "garbage", "Qm123", "bafy", "zzzz", "b" + "a" * 10, "f0155", "../etc/passwd"]
)
def test_garbage_is_not_a_cid(text: str) -> None:
    with pytest.raises(ValueError):
        normalize_cid(text)
    assert not is_cid(text)


def test_is_cid_of_something_that_is_not_text() -> None:
    assert not is_cid(None)
    assert not is_cid(b"bafk")


def test_a_block_that_is_not_a_file_node_is_refused() -> None:
    with pytest.raises(ValueError):
        decode_file_node(b"\x0a\x02\x08\x01")  # UnixFS Directory
    with pytest.raises(ValueError):
        decode_file_node(b"\xff\xff\xff")


def test_memory_holds_one_chunk_not_the_file() -> None:
    importer = UnixFsImporter(blocks=False)
    tracemalloc.start()
    try:
        for index in range(320):  # 20 MiB in 64 KiB pieces, made as they are needed
            importer.feed(hashlib.shake_256(b"%d" % index).digest(65_536))
        importer.finish()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * CHUNK_SIZE  # the chunk being filled, a piece, a copy at most


def _by_multiformats(text: str) -> str:
    """What multiformats alone makes of ``text``: the oracle for normalize_cid's fast path."""
    return cid_text(bytes(CID.decode(text).set(version=1)))


@pytest.mark.parametrize("seed", range(40))
def test_normalize_cid_agrees_with_multiformats_on_every_form_it_reads_itself(seed: int) -> None:
    rng = random.Random(seed)
    digest = rng.randbytes(32)
    for codec in ("raw", "dag-pb"):
        cid = CID("base32", 1, codec, ("sha2-256", digest))
        forms = [cid.encode("base32"), cid.encode("base58btc")]
        if codec == "dag-pb":
            forms.append(CID("base58btc", 0, "dag-pb", ("sha2-256", digest)).encode())
        for text in forms:
            assert _platform_cid(text) is not None, text  # read without multiformats
            assert normalize_cid(text) == _by_multiformats(text), text


@pytest.mark.parametrize(
    "cid",
    [
        CID("base32", 1, "dag-cbor", ("sha2-256", bytes(32))),  # another codec
        CID("base32", 1, "raw", ("sha2-512", bytes(64))),  # another hash
        CID("base36", 1, "raw", ("sha2-256", bytes(32))),  # another multibase
        CID("base32", 1, "raw", ("identity", b"tiny")),  # a digest of another length
    ],
    ids=["dag-cbor", "sha2-512", "base36", "identity"],
)
def test_cids_the_platform_does_not_make_are_still_normalized_by_multiformats(cid) -> None:
    text = cid.encode()
    assert _platform_cid(text) is None  # left to multiformats
    assert normalize_cid(text) == _by_multiformats(text)
