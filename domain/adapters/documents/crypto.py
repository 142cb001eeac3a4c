"""The PDF gate and the content cipher, as the file pipeline's ports (kinds we encrypt)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator

from domain.adapters.documents.pdf_check import check_pdf
from domain.adapters.documents.stream_cipher import decrypt_stream, encrypt_stream, new_data_key


class PypdfInspector:
    async def page_count(self, data: bytes) -> int:
        # parsing a 10 MB PDF takes a while: not on the event loop
        return (await asyncio.to_thread(check_pdf, data)).page_count


class SegmentedAesGcm:
    def new_data_key(self) -> bytes:
        return new_data_key()

    def encrypt(
        self, key: bytes, chunks: AsyncIterable[bytes], context: bytes
    ) -> AsyncIterator[bytes]:
        return encrypt_stream(key, chunks, context)

    def decrypt(
        self, key: bytes, chunks: AsyncIterable[bytes], context: bytes
    ) -> AsyncIterator[bytes]:
        return decrypt_stream(key, chunks, context)
