"""AES-256-GCM sealing of PHI columns under a keyring from settings.

Every sealed value is stored beside the id of the key that sealed it, so a
new key can become active while old rows still open, and a rotation job can
re-seal rows one batch at a time with no downtime. The associated data binds
a ciphertext to its place (table, column, row id): a value copied into
another row or column will not open.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from domain.errors import SealBroken
from domain.sealing import Sealed

NONCE_BYTES = 12


def new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


class PhiCipher:
    def __init__(self, keys: dict[str, bytes], active_key_id: str) -> None:
        if active_key_id not in keys:
            raise ValueError("the active PHI key id is not in the keyring")
        self._aead = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self.active_key_id = active_key_id

    def seal(self, plaintext: bytes, context: str) -> Sealed:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead[self.active_key_id].encrypt(nonce, plaintext, context.encode())
        return Sealed(key_id=self.active_key_id, blob=nonce + sealed)

    def open(self, sealed: Sealed, context: str) -> bytes:
        aead = self._aead.get(sealed.key_id)
        if aead is None:
            raise SealBroken("a stored value was sealed with a key this service does not hold")
        blob = bytes(sealed.blob)
        try:
            return aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], context.encode())
        except InvalidTag:
            raise SealBroken("a stored value could not be opened") from None

    def needs_reseal(self, sealed: Sealed) -> bool:
        return sealed.key_id != self.active_key_id
