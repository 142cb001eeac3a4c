"""Files of a kind we encrypt (``FileKind.encryption``): encrypted on the way in, decrypted on
the way out, each under its own data key, the ciphertext bound to the file's id.

The plaintext is held in memory only between its check and its encryption (at
most the kind's size limit); what is staged, pinned on IPFS and hashed into a CID
is ciphertext. The data key is kept sealed like PHI, so rotating the PHI keyring
re-wraps it without touching IPFS. An altered or swapped ciphertext raises
SealBroken while it streams out, never yielding plaintext it cannot vouch for.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from domain.files.details import open_detail
from domain.files.model import StoredFile
from domain.files.ports import ContentCipher
from domain.files.staging import StagingWriter
from domain.files.uploads import StagedBytes
from domain.sealing import Cipher

if TYPE_CHECKING:
    from domain.files.kind import FileKind

ENCRYPT_PIECE_BYTES = 256 * 1024


def _bound_to(file_id: uuid.UUID) -> bytes:
    return str(file_id).encode()


async def _pieces(data: bytes) -> AsyncIterator[bytes]:
    view = memoryview(data)
    for start in range(0, len(view), ENCRYPT_PIECE_BYTES):
        yield bytes(view[start : start + ENCRYPT_PIECE_BYTES])


async def stage_encrypted(
    staging: StagingWriter, content_cipher: ContentCipher, plaintext: bytes
) -> tuple[StagedBytes, bytes]:
    """Encrypt ``plaintext`` under a fresh data key into ``staging``; returns what was staged
    and the data key (for the caller to keep sealed)."""
    data_key = content_cipher.new_data_key()
    bound = _bound_to(staging.upload_id)  # the upload's id is the file's
    async for piece in content_cipher.encrypt(data_key, _pieces(plaintext), bound):
        await staging.write(piece)
    return await staging.finish(), data_key


def decrypted(
    kind: FileKind,
    cipher: Cipher,
    content_cipher: ContentCipher,
    file: StoredFile,
    ciphertext: AsyncIterator[bytes],
) -> AsyncIterator[bytes]:
    """The file's plaintext, as its ciphertext streams in."""
    assert kind.encryption is not None
    data_key = open_detail(kind, cipher, file, kind.encryption.key)
    return content_cipher.decrypt(data_key, ciphertext, _bound_to(file.id))
