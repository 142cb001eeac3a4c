"""Bakong's Open API (NBC): which KHQR codes were paid, asked by their MD5.

Only ``BAKONG_API_URL`` is ever called, with ``BAKONG_TOKEN`` as the bearer
token: no relay, whatever the token looks like. Short faults (a dropped
connection, a timeout, a 5xx) are retried a few times within seconds
(tenacity); then TransientFailure hands over to the job's own schedule. A 403
(the real API refuses callers outside Cambodia) is transient too: it is the
network's state, not the request's. A refused token (401, or ``errorCode`` 6)
is permanent.

Answers (``responseCode`` 0 means found)::

    POST /v1/check_transaction_by_md5       {"md5": "..."}
      -> {"responseCode": 0, "data": {"hash", "amount", "currency", "acknowledgedDateMs", ...}}
      -> {"responseCode": 1, "errorCode": 1, "data": null}           (not paid)
    POST /v1/check_transaction_by_md5_list  ["md5", ...]  (at most 50)
      -> {"responseCode": 0, "data": [{"md5", "status": "SUCCESS", "data": {...}}, ...]}
    POST /v1/generate_deeplink_by_qr  {"qr", "sourceInfo": {"appName", "appIconUrl",
                                       "appDeepLinkCallback"}}
      -> {"responseCode": 0, "data": {"shortLink": "https://..."}}

Amounts are JSON numbers in major units; they are read as Decimal, never float.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import msgspec
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from domain.errors import PermanentFailure, TransientFailure, ValidationFailed
from domain.payments.model import PaidTransaction
from domain.payments.money import Currency, minor_units
from domain.payments.ports import CHECK_BATCH

ONE = "/v1/check_transaction_by_md5"
MANY = "/v1/check_transaction_by_md5_list"
DEEPLINK = "/v1/generate_deeplink_by_qr"
UNAUTHORIZED_CODE = 6
TRIES = 3
_decoder = msgspec.json.Decoder(float_hook=Decimal)


class _Retryable(Exception):
    """A fault worth another try now: a lost connection, a timeout, a 5xx."""


class _Transaction(msgspec.Struct, frozen=True, rename="camel"):
    hash: str
    amount: Decimal
    currency: Currency
    acknowledged_date_ms: int


class BakongOpenApi:
    def __init__(
        self,
        base_url: str,
        token: str | None,
        *,
        timeout_seconds: float,
        tries: int = TRIES,
        source: dict[str, str] | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), headers=headers, timeout=timeout_seconds
        )
        self._tries = tries
        self._source = source  # appName, appIconUrl, appDeepLinkCallback: deeplinks' "sourceInfo"

    async def close(self) -> None:
        await self._client.aclose()

    async def check(self, md5: str) -> PaidTransaction | None:
        answer = await self._post(ONE, {"md5": md5})
        if answer.get("responseCode") != 0 or not answer.get("data"):
            return None
        return _paid(md5, answer["data"])

    async def check_many(self, md5s: Sequence[str]) -> dict[str, PaidTransaction]:
        if not 0 < len(md5s) <= CHECK_BATCH:
            raise ValueError(f"ask about 1 to {CHECK_BATCH} MD5s at a time")
        answer = await self._post(MANY, list(md5s))
        paid: dict[str, PaidTransaction] = {}
        if answer.get("responseCode") != 0:
            return paid
        for item in answer.get("data") or []:
            if item.get("status") == "SUCCESS" and item.get("data") and item.get("md5") in md5s:
                paid[item["md5"]] = _paid(item["md5"], item["data"])
        return paid

    async def deeplink(self, qr: str) -> str | None:
        if self._source is None:
            return None
        answer = await self._post(DEEPLINK, {"qr": qr, "sourceInfo": self._source})
        link = (answer.get("data") or {}).get("shortLink")
        if answer.get("responseCode") != 0 or not isinstance(link, str):
            raise TransientFailure("Bakong made no deeplink for this code", code="bakong_error")
        return link

    async def _post(self, path: str, body: Any) -> dict[str, Any]:
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(self._tries),
                wait=wait_exponential(multiplier=0.2, max=2.0),
                retry=retry_if_exception_type(_Retryable),
                reraise=True,
            ):
                with attempt:
                    return await self._once(path, body)
        except _Retryable as exc:
            raise TransientFailure(str(exc), code="bakong_unavailable") from None
        raise AssertionError("unreachable")  # pragma: no cover - AsyncRetrying returns or raises

    async def _once(self, path: str, body: Any) -> dict[str, Any]:
        try:
            response = await self._client.post(path, json=body)
        except httpx.TimeoutException:
            raise _Retryable("Bakong did not answer in time") from None
        except httpx.TransportError:
            raise _Retryable("Bakong could not be reached") from None
        if response.status_code >= 500:
            raise _Retryable(f"Bakong answered {response.status_code}")
        if response.status_code == 401:
            raise PermanentFailure("Bakong refused our token", code="bakong_token_refused")
        if response.status_code == 403:
            raise TransientFailure(
                "Bakong refused this caller (its API answers callers in Cambodia only)",
                code="bakong_forbidden",
            )
        if response.status_code != 200:
            raise TransientFailure(f"Bakong answered {response.status_code}", code="bakong_error")
        try:
            answer = _decoder.decode(response.content)
        except msgspec.DecodeError:
            raise _Retryable("Bakong's answer was not JSON") from None
        if not isinstance(answer, dict):
            raise TransientFailure("Bakong's answer was not an object", code="bakong_error")
        if answer.get("errorCode") == UNAUTHORIZED_CODE:
            raise PermanentFailure("Bakong refused our token", code="bakong_token_refused")
        return answer


def _paid(md5: str, data: dict[str, Any]) -> PaidTransaction:
    try:
        found = msgspec.convert(data, _Transaction)
        return PaidTransaction(
            md5=md5,
            hash=found.hash,
            amount_minor=minor_units(found.amount, found.currency),
            currency=found.currency,
            paid_at=datetime.fromtimestamp(found.acknowledged_date_ms / 1000, UTC),
        )
    except (msgspec.ValidationError, ValidationFailed):
        raise TransientFailure(
            "Bakong reported a transaction we cannot read", code="bakong_error"
        ) from None
