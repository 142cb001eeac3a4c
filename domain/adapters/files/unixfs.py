"""UnixFS files as Kubo builds them with ``ipfs add --cid-version=1``, without a node.

Why compute CIDs ourselves: a record's CID must not depend on which store holds it.
The embedded block store builds the very blocks a Kubo node would, and the Kubo
adapter checks the node's answer against this importer, so a node configured with
another chunker or layout is refused instead of silently minting other CIDs.

The layout (Kubo's defaults once ``cid-version=1`` turns raw leaves on):
fixed 262,144-byte chunks stored as raw blocks (codec 0x55); a balanced tree of
dag-pb nodes (codec 0x70) of at most 174 links, each carrying UnixFS Data
{Type: File, filesize, blocksizes}; sha2-256 throughout. A file of one chunk (or
none: the empty file) is its raw leaf. Balanced means full subtrees from left to
right, which is the same as grouping each level's links by 174 and repeating
until one link is left; that lets the importer emit a node the moment a level
fills, holding only the current chunk and one open link list per level.

CID text is CIDv1 in lower-case base32 (``bafk...`` raw, ``bafy...`` dag-pb).
``normalize_cid`` turns any CID text (js-ipfs answers in base58btc ``zb2...``,
CIDv0 ``Qm...``) into that form.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterable
from typing import NamedTuple

from multiformats import CID

CHUNK_SIZE = 262_144
MAX_LINKS = 174
RAW = 0x55
DAG_PB = 0x70
SHA2_256 = 0x12
_UNIXFS_RAW = 0
_UNIXFS_FILE = 2

Block = tuple[str, bytes]  # (CID text, block bytes)


# --- varints, CIDs ----------------------------------------------------------------


def varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def read_varint(buf: bytes | memoryview, pos: int) -> tuple[int, int]:
    """The unsigned varint at ``pos`` and the position after it; ValueError if cut short."""
    result = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise ValueError("truncated or oversized varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def cid_binary(codec: int, block: bytes | memoryview) -> bytes:
    """The binary CIDv1 (sha2-256) of a block."""
    return b"\x01" + varint(codec) + b"\x12\x20" + hashlib.sha256(block).digest()


def cid_text(binary: bytes) -> str:
    """Binary CIDv1 → base32 text (multibase prefix ``b``, lower case, no padding)."""
    return "b" + base64.b32encode(binary).decode("ascii").lower().rstrip("=")


def cid_from_text(text: str) -> bytes:
    """Base32 CIDv1 text (our own form) → binary; ValueError if it is not that form."""
    if not text.startswith("b"):
        raise ValueError("not a base32 CID")
    body = text[1:].upper()
    try:
        return base64.b32decode(body + "=" * (-len(body) % 8))
    except ValueError as error:
        raise ValueError("not a base32 CID") from error


def cid_codec(binary: bytes) -> int:
    """The content codec of a binary CIDv1 (0x55 raw, 0x70 dag-pb ...)."""
    version, pos = read_varint(binary, 0)
    if version != 1:
        raise ValueError("not a CIDv1")
    codec, _ = read_varint(binary, pos)
    return codec


def cid_digest(binary: bytes) -> tuple[int, bytes]:
    """The multihash function code and digest of a binary CIDv1."""
    _, pos = read_varint(binary, 0)
    _, pos = read_varint(binary, pos)
    function, pos = read_varint(binary, pos)
    length, pos = read_varint(binary, pos)
    digest = binary[pos : pos + length]
    if len(digest) != length or pos + length != len(binary):
        raise ValueError("malformed multihash")
    return function, digest


_BASE58BTC = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BASE58BTC_VALUE = {symbol: value for value, symbol in enumerate(_BASE58BTC)}
_SHA2_256_OF_32 = bytes([SHA2_256, 32])


def _base58btc(text: str) -> bytes | None:
    """Base58btc text → bytes (each leading "1" a zero byte); None if a symbol is not one."""
    number = 0
    for symbol in text:
        value = _BASE58BTC_VALUE.get(symbol)
        if value is None:
            return None
        number = number * 58 + value
    zeros = len(text) - len(text.lstrip("1"))
    return b"\0" * zeros + number.to_bytes((number.bit_length() + 7) // 8, "big")


def _platform_cid(text: str) -> bytes | None:
    """The binary CIDv1 of ``text`` if it names a block as this platform's stores make them
    (raw or dag-pb, sha2-256) in one of the forms they answer with: our base32, js-ipfs'
    base58btc (``z``), CIDv0 (``Qm``). None for anything else, which multiformats decides.

    multiformats checks every argument's type at run time: 160-170 us a CID, paid on every
    add's answer and every read of a file's content; this takes 10-16 us."""
    if text.startswith("Qm") and len(text) == 46:  # CIDv0: a dag-pb block's sha2-256
        multihash = _base58btc(text)
        if multihash is None or len(multihash) != 34 or multihash[:2] != _SHA2_256_OF_32:
            return None
        return bytes([1, DAG_PB]) + multihash
    if text.startswith("b"):
        try:
            binary = cid_from_text(text)
        except ValueError:
            return None
        if cid_text(binary) != text:  # upper case, padding: multiformats judges those
            return None
    elif text.startswith("z"):
        binary = _base58btc(text[1:]) or b""
    else:
        return None
    ours = len(binary) == 36 and binary[0] == 1 and binary[1] in (RAW, DAG_PB)
    return binary if ours and binary[2:4] == _SHA2_256_OF_32 else None


def normalize_cid(text: str) -> str:
    """Any CID text (CIDv0 ``Qm...``, CIDv1 in any multibase) → CIDv1 base32 text.

    Raises ValueError when ``text`` is not a CID. Only the form changes: a CIDv0 becomes
    the CIDv1 of the same dag-pb block, not the CID ``cid-version=1`` would give the file.
    """
    if not isinstance(text, str):
        raise ValueError("a CID is text")
    text = text.strip()
    binary = _platform_cid(text)
    if binary is not None:
        return cid_text(binary)
    try:
        cid = CID.decode(text)
        if cid.version not in (0, 1):
            raise ValueError("unknown CID version")
        return cid_text(bytes(cid.set(version=1)))
    except ValueError:
        raise
    except Exception as error:  # multiformats raises KeyError and friends on garbage
        raise ValueError("not a CID") from error


def is_cid(text: object) -> bool:
    try:
        normalize_cid(text)  # type: ignore[arg-type]
    except ValueError:
        return False
    return True


# --- dag-pb / UnixFS encoding -----------------------------------------------------


class Link(NamedTuple):
    """A child as its parent records it."""

    cid: bytes  # binary CIDv1
    tsize: int  # the bytes of every block under it, itself included (dag-pb Tsize)
    filesize: int  # the file bytes under it (UnixFS blocksizes entry)


def _field_bytes(tag: int, value: bytes) -> bytes:
    return bytes((tag,)) + varint(len(value)) + value


def encode_file_node(links: list[Link]) -> bytes:
    """A dag-pb node over ``links``: PBLinks first (Hash, Name "", Tsize), then UnixFS Data.

    Field order and the empty Name follow go-merkledag's encoding byte for byte;
    the tests check the resulting CIDs against a node.
    """
    filesize = sum(link.filesize for link in links)
    data = (
        b"\x08\x02\x18" + varint(filesize) + b"".join(b"\x20" + varint(ln.filesize) for ln in links)
    )
    parts = [
        _field_bytes(0x12, _field_bytes(0x0A, ln.cid) + b"\x12\x00\x18" + varint(ln.tsize))
        for ln in links
    ]
    parts.append(_field_bytes(0x0A, data))
    return b"".join(parts)


class DagPbNode(NamedTuple):
    links: list[bytes]  # binary CIDs, in order
    data: bytes  # the UnixFS Data message's own data bytes (empty with raw leaves)


def _fields(buf: memoryview) -> list[tuple[int, int | memoryview]]:
    """A protobuf message's (field number, value) pairs: varints and length-delimited only."""
    out: list[tuple[int, int | memoryview]] = []
    pos = 0
    while pos < len(buf):
        key, pos = read_varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = read_varint(buf, pos)
            out.append((number, value))
        elif wire == 2:
            length, pos = read_varint(buf, pos)
            if pos + length > len(buf):
                raise ValueError("truncated protobuf field")
            out.append((number, buf[pos : pos + length]))
            pos += length
        else:
            raise ValueError("unexpected protobuf wire type")
    return out


def decode_file_node(block: bytes) -> DagPbNode:
    """Parse a dag-pb UnixFS file node (ours, or a Kubo one with data in its leaves).

    Raises ValueError for anything else (a directory, a malformed block).
    """
    links: list[bytes] = []
    unixfs: memoryview | None = None
    for number, value in _fields(memoryview(block)):
        if number == 2 and isinstance(value, memoryview):
            for link_number, link_value in _fields(value):
                if link_number == 1 and isinstance(link_value, memoryview):
                    links.append(bytes(link_value))
        elif number == 1 and isinstance(value, memoryview):
            unixfs = value
    if unixfs is None:
        raise ValueError("dag-pb node without UnixFS data")
    kind, data = None, b""
    for number, value in _fields(unixfs):
        if number == 1 and isinstance(value, int):
            kind = value
        elif number == 2 and isinstance(value, memoryview):
            data = bytes(value)
    if kind not in (_UNIXFS_FILE, _UNIXFS_RAW):
        raise ValueError("not a UnixFS file node")
    return DagPbNode(links, data)


# --- the importer -----------------------------------------------------------------


class UnixFsImporter:
    """Chunks bytes as they come and returns each block once it is complete.

    ``blocks=False`` computes the CID only: ``feed`` then returns nothing and no
    block bytes are copied (what a CID check needs).
    """

    def __init__(self, *, blocks: bool = True) -> None:
        self._keep = blocks
        self._buffer = bytearray()
        self._levels: list[list[Link]] = [[]]  # _levels[0]: leaves waiting for their parent
        self._finished = False

    def feed(self, data: bytes | bytearray | memoryview) -> list[Block]:
        if self._finished:
            raise RuntimeError("the importer has finished")
        out: list[Block] = []
        view = memoryview(data).cast("B")
        pos = 0
        if self._buffer:
            take = min(CHUNK_SIZE - len(self._buffer), len(view))
            self._buffer += view[:take]
            pos = take
            if len(self._buffer) == CHUNK_SIZE:
                self._leaf(bytes(self._buffer) if self._keep else self._buffer, out)
                self._buffer.clear()
        while len(view) - pos >= CHUNK_SIZE:  # whole chunks straight from the input
            self._leaf(view[pos : pos + CHUNK_SIZE], out)
            pos += CHUNK_SIZE
        self._buffer += view[pos:]
        return out

    def finish(self) -> tuple[str, list[Block]]:
        """The root CID and the blocks not yet returned. The importer cannot be fed after."""
        if self._finished:
            raise RuntimeError("the importer has finished")
        self._finished = True
        out: list[Block] = []
        if self._buffer or (not self._levels[0] and len(self._levels) == 1):
            self._leaf(bytes(self._buffer), out)  # the last, short chunk (or the empty file)
            self._buffer = bytearray()
        level = 0
        while True:
            links = self._levels[level]
            if level == len(self._levels) - 1:  # the top: one link is the root, more need one
                root = links[0] if len(links) == 1 else self._node(links, out)
                return cid_text(root.cid), out
            if links:
                self._push(level + 1, self._node(links, out), out)
                self._levels[level] = []
            level += 1

    def _leaf(self, chunk: bytes | bytearray | memoryview, out: list[Block]) -> None:
        binary = cid_binary(RAW, chunk)
        if self._keep:
            out.append((cid_text(binary), bytes(chunk)))
        self._push(0, Link(binary, len(chunk), len(chunk)), out)

    def _push(self, level: int, link: Link, out: list[Block]) -> None:
        if level == len(self._levels):
            self._levels.append([])
        links = self._levels[level]
        links.append(link)
        if len(links) == MAX_LINKS:  # a full group: its parent is final whatever follows
            self._levels[level] = []
            self._push(level + 1, self._node(links, out), out)

    def _node(self, links: list[Link], out: list[Block]) -> Link:
        block = encode_file_node(links)
        binary = cid_binary(DAG_PB, block)
        if self._keep:
            out.append((cid_text(binary), block))
        return Link(
            binary, len(block) + sum(ln.tsize for ln in links), sum(ln.filesize for ln in links)
        )


def cid_of_bytes(data: bytes) -> str:
    importer = UnixFsImporter(blocks=False)
    importer.feed(data)
    return importer.finish()[0]


async def cid_of(chunks: AsyncIterable[bytes]) -> str:
    """The CID a Kubo node would give the concatenated ``chunks`` (nothing is stored)."""
    importer = UnixFsImporter(blocks=False)
    async for chunk in chunks:
        importer.feed(chunk)
    return importer.finish()[0]
