"""An outside OCR service over HTTP (OCR_ENGINE=provider): a scan's pages are posted to
OCR_PROVIDER_URL with OCR_PROVIDER_TOKEN as the bearer token; the provider answers at once
(2xx) and later calls back ``POST /api/v1/webhooks/ocr`` signed as Standard Webhooks (its
endpoint and secret are set on the provider's side, as with any webhook sender).

The request (multipart/form-data)::

    POST <OCR_PROVIDER_URL>
    Authorization: Bearer <OCR_PROVIDER_TOKEN>
    reference=<uuid>          what the callback names (our reading job's id; nothing else)
    page=@page-0.png ...      each page, in order, as PNG (photos upright, PDFs rendered)

and the callback's body::

    {"type": "ocr.completed", "data": {"reference": "<uuid>", "lines": [
        {"text": "...", "box": [left, top, right, bottom], "confidence": 0.97, "page": 0}]}}
    {"type": "ocr.failed", "data": {"reference": "<uuid>", "code": "unreadable"}}

Short faults (a dropped connection, a timeout, a 5xx) are tried again a few times within
seconds (tenacity); then, as for a 429, OcrUnavailable hands over to the job's schedule. Any
other 4xx is the provider refusing the request (our token, our pages): PermanentFailure.
Nothing of the pages or the answer is logged.
"""

from __future__ import annotations

import uuid

import httpx
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from domain.errors import PermanentFailure
from domain.scans.ports import OcrUnavailable

TRIES = 3
REQUEST_TIMEOUT_SECONDS = 60.0  # ten pages of PNG on a slow uplink


class _Retryable(Exception):
    """A fault worth another try now."""


class HttpOcrProvider:
    name = "provider"

    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout_seconds: float = REQUEST_TIMEOUT_SECONDS,
        tries: int = TRIES,
    ) -> None:
        self._url = url
        self._headers = {"Authorization": f"Bearer {token}"}
        self._timeout = timeout_seconds
        self._tries = tries

    async def submit(self, reference: uuid.UUID, pages: list[bytes]) -> None:
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(self._tries),
                wait=wait_exponential(multiplier=0.2, max=2.0),
                retry=retry_if_exception_type(_Retryable),
                reraise=True,
            ):
                with attempt:
                    await self._once(reference, pages)
        except _Retryable as exc:
            raise OcrUnavailable(f"the OCR provider is unavailable ({exc})") from None

    async def _once(self, reference: uuid.UUID, pages: list[bytes]) -> None:
        files = [("page", (f"page-{n}.png", page, "image/png")) for n, page in enumerate(pages)]
        try:
            # a client per request: sends are minutes apart, and a job may run on any loop
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                response = await client.post(
                    self._url,
                    headers=self._headers,
                    data={"reference": str(reference)},
                    files=files,
                )
        except httpx.TimeoutException:
            raise _Retryable("no answer in time") from None
        except httpx.TransportError:
            raise _Retryable("unreachable") from None
        status = response.status_code
        if status >= 500:
            raise _Retryable(f"it answered {status}")
        if status == 429:  # slow down: the job's schedule waits longer than tenacity would
            raise OcrUnavailable("the OCR provider asked us to slow down (429)")
        if not 200 <= status < 300:
            raise PermanentFailure(
                f"the OCR provider refused the scan ({status})", code="ocr_provider_refused"
            )
