"""The PHI cipher in memory: it seals by reference, so nothing readable reaches a fake table.

A sealed value's blob is a random handle; the plaintext stays inside the cipher, bound to
the value's place (``table.column:row id``). As with the AES-GCM cipher, a value copied to
another row or column does not open (SealBroken), and a value sealed under an older key
needs resealing.
"""

from __future__ import annotations

import secrets

from domain.errors import SealBroken
from domain.sealing import Sealed


class FakeCipher:
    active_key_id = "fake-k1"

    def __init__(self) -> None:
        self._vault: dict[bytes, tuple[str, bytes]] = {}

    def seal(self, plaintext: bytes, context: str) -> Sealed:
        handle = secrets.token_bytes(16)
        self._vault[handle] = (context, plaintext)
        return Sealed(key_id=self.active_key_id, blob=handle)

    def open(self, sealed: Sealed, context: str) -> bytes:
        found = self._vault.get(sealed.blob)
        if found is None or found[0] != context:
            raise SealBroken("a stored value could not be opened")
        return found[1]

    def needs_reseal(self, sealed: Sealed) -> bool:
        return sealed.key_id != self.active_key_id
