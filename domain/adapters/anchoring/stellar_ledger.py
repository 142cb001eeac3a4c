"""Anchoring Merkle roots on Stellar through Horizon (the ``AnchorLedger`` port).

Why submission is shaped like this (Horizon's synchronous POST /transactions):

* A timeout, a dropped connection, a 504 or a 503 does not mean the
  transaction failed: it may still land. So the *same envelope* is sent again
  (same hash, same sequence: it can land at most once, and Horizon answers a
  resubmission of a landed transaction with its result).
* tx_bad_seq / tx_too_late mean this envelope can never land. Before building
  another, we look for the one that may already have landed (the hashes tried,
  then the account's recent transactions for one whose memo is this root), so
  a root is not anchored twice; only then is the root re-signed with a fresh
  sequence number.
* tx_insufficient_fee (a fee surge): re-signed with the *same* sequence and a
  higher fee (doubling, or the fee the network named, capped at ``max_fee``).
  Two envelopes with one sequence number can never both land.
* stellar-core's TRY_AGAIN_LATER (one transaction per account per ledger, or
  a full queue) reaches a synchronous client as a 504 after Horizon's own
  timeout (503 from the async endpoint): we wait and resubmit the same
  envelope, a bounded number of times.

What cannot pass on its own (a bad signature or passphrase, a missing or
empty account) is a PermanentFailure; a ledger that stays unreachable or busy
is a TransientFailure, and the job retries later with the anchor it kept.

Without a Horizon URL (``submits`` False) envelopes are signed against a
locally remembered sequence number and kept; ``submit`` on a configured
instance later finds that sequence stale (tx_bad_seq) and re-signs.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import structlog
from stellar_sdk import Keypair, ServerAsync, TransactionEnvelope
from stellar_sdk import xdr as stellar_xdr
from stellar_sdk.client.aiohttp_client import AiohttpClient
from stellar_sdk.exceptions import (
    BadRequestError,
    BadResponseError,
    BaseHorizonError,
    ConnectionError,
    NotFoundError,
    SdkError,
)
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from domain.adapters.anchoring.stellar_envelope import VALID_SECONDS, build_anchor
from domain.anchoring.ports import LedgerTransaction, SignedAnchor
from domain.clock import Clock, SystemClock
from domain.errors import JobFailure, PermanentFailure, TransientFailure
from domain.settings import SettingsError

log = structlog.get_logger(__name__)

T = TypeVar("T")
MAX_ROUNDS = 16  # submissions per submit() call, across every kind of retry
RECENT_TRANSACTIONS = 50  # how far back an account's history is searched for a landed root
_RESIGN_CODES = {"tx_bad_seq", "tx_too_late"}


def stellar_keypair(secret_key: str) -> Keypair:
    """The anchoring account's key pair from STELLAR_SECRET_KEY (never quoted in the refusal)."""
    try:
        return Keypair.from_secret(secret_key)
    except (SdkError, ValueError):
        raise SettingsError(
            "STELLAR_SECRET_KEY must be a Stellar secret seed (56 characters starting with S)"
        ) from None


class _Flaky(Exception):
    """An answer worth asking again (transport error, timeout, Horizon 5xx on a read)."""


@dataclass(frozen=True)
class _Answer:
    """Horizon's answer to one submission."""

    status: int
    body: dict[str, Any]

    @property
    def landed(self) -> bool:
        return self.status == 200

    @property
    def tx_code(self) -> str | None:
        codes = (self.body.get("extras") or {}).get("result_codes") or {}
        return codes.get("transaction")

    @property
    def op_codes(self) -> list[str]:
        codes = (self.body.get("extras") or {}).get("result_codes") or {}
        return list(codes.get("operations") or [])

    @property
    def fee_required(self) -> int | None:
        """The fee core named with tx_insufficient_fee (its result's fee_charged)."""
        result_xdr = (self.body.get("extras") or {}).get("result_xdr")
        if not result_xdr:
            return None
        try:
            return stellar_xdr.TransactionResult.from_xdr(result_xdr).fee_charged.int64
        except Exception:  # a result we cannot read leaves us with doubling
            return None


class StellarLedger:
    def __init__(
        self,
        secret_key: str,
        network_passphrase: str,
        horizon_url: str | None,
        *,
        base_fee: int = 100,
        max_fee: int = 10_000,
        timeout_seconds: float = 30.0,
        tries: int = 4,
        first_wait_seconds: float = 1.0,
        max_wait_seconds: float = 5.0,
        valid_seconds: int = VALID_SECONDS,
        clock: Clock | None = None,
    ) -> None:
        self._keypair = stellar_keypair(secret_key)
        if not 0 < base_fee <= max_fee:
            raise SettingsError("STELLAR_BASE_FEE must be positive and at most STELLAR_MAX_FEE")
        self.account_id: str = self._keypair.public_key
        self.network_passphrase = network_passphrase
        self.submits = horizon_url is not None
        self._horizon_url = horizon_url
        self._base_fee = base_fee
        self._max_fee = max_fee
        self._timeout = timeout_seconds
        self._tries = tries
        self._first_wait = first_wait_seconds
        self._max_wait = max_wait_seconds
        self._valid_seconds = valid_seconds
        self._clock = clock or SystemClock()
        self._local_sequence = 0  # the last one used, when no Horizon is configured
        self._server: ServerAsync | None = None

    # --- the port ------------------------------------------------------------------------

    async def sign(self, root: bytes) -> SignedAnchor:
        if self.submits:
            sequence = await self._next_sequence()
        else:
            self._local_sequence += 1
            sequence = self._local_sequence
        return self._sign(root, sequence, self._base_fee)

    async def submit(self, anchor: SignedAnchor) -> tuple[SignedAnchor, LedgerTransaction]:
        if not self.submits:
            raise TransientFailure(
                "no Stellar Horizon is configured; the anchor stays signed",
                code="stellar_not_configured",
            )
        current = anchor
        tried = [anchor.tx_hash]
        busy_rounds = 0
        for _ in range(MAX_ROUNDS):
            answer = await self._post(current)
            if answer.landed:
                return current, self._ledger_transaction(answer.body, current)
            code = answer.tx_code
            if code in _RESIGN_CODES:
                found = await self._find_landed(current.root, tried)
                if found is not None:
                    return found
                log.info("stellar_anchor_resigned", reason=code, sequence=current.sequence)
                current = self._sign(current.root, await self._next_sequence(), current.fee)
            elif code == "tx_insufficient_fee":
                current = self._with_higher_fee(current, answer.fee_required)
                log.info("stellar_anchor_fee_raised", fee=current.fee)
            elif code is None and answer.status >= 500:
                # 504: Horizon's wait ran out (core said TRY_AGAIN_LATER, or the ledger is slow);
                # 503: it cannot submit now. The envelope may still land: look, then resend it.
                found_tx = await self.lookup(current.tx_hash)
                if found_tx is not None and found_tx.successful:
                    return current, found_tx
                busy_rounds += 1
                if busy_rounds >= self._tries:
                    raise TransientFailure(
                        "the ledger is busy; the anchor will be sent again later",
                        code="stellar_busy",
                    )
                log.info("stellar_try_again_later", status=answer.status, round=busy_rounds)
                await asyncio.sleep(self._wait(busy_rounds))
                continue
            else:
                raise _refusal(answer)
            tried.append(current.tx_hash)
        raise TransientFailure("the anchor did not settle on the ledger", code="stellar_unsettled")

    async def lookup(self, tx_hash: str) -> LedgerTransaction | None:
        server = self._horizon()
        try:
            body = await self._read(lambda: server.transactions().transaction(tx_hash).call())
        except (NotFoundError, BadRequestError):  # 400: not a hash Horizon knows the form of
            return None
        return self._ledger_transaction(body, None)

    async def close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            await server.close()

    # --- signing -------------------------------------------------------------------------

    def _sign(self, root: bytes, sequence: int, fee: int) -> SignedAnchor:
        valid_until = int(self._clock.now().timestamp()) + self._valid_seconds
        return build_anchor(
            self._keypair,
            network_passphrase=self.network_passphrase,
            sequence=sequence,
            root=root,
            fee=fee,
            valid_until=valid_until,
        )

    def _with_higher_fee(self, anchor: SignedAnchor, required: int | None) -> SignedAnchor:
        wanted = max(anchor.fee * 2, required or 0)
        fee = min(wanted, self._max_fee)
        if fee <= anchor.fee or (required or 0) > self._max_fee:
            raise TransientFailure(
                "the ledger's fee is above our cap for now", code="stellar_fee_above_cap"
            )
        return self._sign(anchor.root, anchor.sequence, fee)  # same sequence: only one can land

    async def _next_sequence(self) -> int:
        server = self._horizon()
        try:
            account = await self._read(lambda: server.load_account(self.account_id))
        except NotFoundError:
            raise PermanentFailure(
                "the anchoring account does not exist on the ledger",
                code="stellar_account_missing",
            ) from None
        return account.sequence + 1

    # --- finding what landed -------------------------------------------------------------

    async def _find_landed(
        self, root: bytes, hashes: list[str]
    ) -> tuple[SignedAnchor, LedgerTransaction] | None:
        """An anchor of ``root`` already on the ledger: one of ``hashes``, or any recent one."""
        for tx_hash in hashes:
            found = await self.lookup(tx_hash)
            if found is not None and found.successful:
                return self._anchor_of(found, root), found
        server = self._horizon()
        try:
            page = await self._read(
                lambda: (
                    server.transactions()
                    .for_account(self.account_id)
                    .order(desc=True)
                    .limit(RECENT_TRANSACTIONS)
                    .call()
                )
            )
        except NotFoundError:  # no account, so no history
            return None
        for record in (page.get("_embedded") or {}).get("records") or []:
            found = self._ledger_transaction(record, None)
            if found.successful and found.memo_hash == root:
                log.info("stellar_anchor_found_landed", ledger=found.ledger)
                return self._anchor_of(found, root), found
        return None

    def _anchor_of(self, found: LedgerTransaction, root: bytes) -> SignedAnchor:
        transaction = TransactionEnvelope.from_xdr(
            found.envelope_xdr, self.network_passphrase
        ).transaction
        return SignedAnchor(
            root=root,
            envelope_xdr=found.envelope_xdr,
            tx_hash=found.tx_hash,
            sequence=transaction.sequence,
            fee=transaction.fee,
        )

    def _ledger_transaction(
        self, body: dict[str, Any], anchor: SignedAnchor | None
    ) -> LedgerTransaction:
        memo_hash: bytes | None = None
        if body.get("memo_type") == "hash" and body.get("memo"):
            memo_hash = base64.b64decode(body["memo"])
        elif "memo_type" not in body and anchor is not None:
            memo_hash = anchor.root  # an older Horizon's short submit answer
        return LedgerTransaction(
            tx_hash=str(body.get("hash") or (anchor.tx_hash if anchor else "")),
            ledger=int(body["ledger"]),
            source_account=str(body.get("source_account") or self.account_id),
            memo_hash=memo_hash,
            successful=bool(body.get("successful", True)),
            envelope_xdr=str(body.get("envelope_xdr") or (anchor.envelope_xdr if anchor else "")),
        )

    # --- HTTP ----------------------------------------------------------------------------

    def _horizon(self) -> ServerAsync:
        if self._horizon_url is None:
            raise TransientFailure(
                "no Stellar Horizon is configured", code="stellar_not_configured"
            )
        if self._server is None:
            client = AiohttpClient(request_timeout=self._timeout, post_timeout=self._timeout)
            self._server = ServerAsync(self._horizon_url, client=client)
        return self._server

    def _wait(self, round_number: int) -> float:
        return min(self._first_wait * 2 ** (round_number - 1), self._max_wait)

    def _retrying(self) -> AsyncRetrying:
        return AsyncRetrying(
            stop=stop_after_attempt(self._tries),
            wait=wait_exponential(multiplier=self._first_wait, max=self._max_wait),
            retry=retry_if_exception_type(_Flaky),
            reraise=True,
        )

    async def _retried(self, once: Callable[[], Awaitable[T]]) -> T:
        """``once`` until it stops raising _Flaky (bounded); then "the ledger did not answer"."""
        try:
            async for attempt in self._retrying():
                with attempt:
                    return await once()
        except _Flaky:
            raise _unreachable() from None
        raise AssertionError("unreachable")  # pragma: no cover - tenacity reraises

    async def _read(self, call: Callable[[], Awaitable[T]]) -> T:
        """A GET, asked again on transport errors and 5xx; 4xx errors are raised as they are."""

        async def once() -> T:
            try:
                return await call()
            except (ConnectionError, TimeoutError, BadResponseError) as exc:
                raise _Flaky() from exc

        return await self._retried(once)

    async def _post(self, anchor: SignedAnchor) -> _Answer:
        """One submission of ``anchor``'s envelope, sent again as it is on transport errors."""
        server = self._horizon()
        envelope = TransactionEnvelope.from_xdr(anchor.envelope_xdr, self.network_passphrase)

        async def once() -> _Answer:
            try:
                body = await server.submit_transaction(envelope, skip_memo_required_check=True)
                return _Answer(200, body)
            except (ConnectionError, TimeoutError) as exc:
                raise _Flaky() from exc
            except (BadRequestError, BadResponseError, NotFoundError) as exc:
                return _Answer(exc.status, _problem_body(exc))

        return await self._retried(once)


def _problem_body(exc: BaseHorizonError) -> dict[str, Any]:
    return {"status": exc.status, "type": exc.type, "title": exc.title, "extras": exc.extras}


def _unreachable() -> TransientFailure:
    return TransientFailure("the ledger did not answer", code="stellar_unreachable")


_PERMANENT = {
    "tx_bad_auth": ("the ledger refused our signature (key or network passphrase)", "bad_auth"),
    "tx_bad_auth_extra": (
        "the ledger refused our signature (key or network passphrase)",
        "bad_auth",
    ),
    "tx_no_account": ("the anchoring account does not exist on the ledger", "account_missing"),
    "tx_insufficient_balance": ("the anchoring account cannot pay the fee", "insufficient_balance"),
}


def _refusal(answer: _Answer) -> JobFailure:
    code = answer.tx_code
    if code in _PERMANENT:
        message, suffix = _PERMANENT[code]
        return PermanentFailure(message, code=f"stellar_{suffix}")
    if code == "tx_failed":
        operation = next((c for c in answer.op_codes if c != "op_success"), "op_failed")
        if operation == "op_no_account":
            return PermanentFailure(
                "the anchoring account does not exist on the ledger",
                code="stellar_account_missing",
            )
        return PermanentFailure("the ledger refused the anchor", code=f"stellar_{operation}")
    if code in ("tx_too_early", "tx_internal_error"):
        return TransientFailure("the ledger cannot take the anchor now", code=f"stellar_{code}")
    if code is None and answer.status == 404:
        return TransientFailure(
            "the Horizon URL does not serve transactions", code="stellar_bad_horizon_url"
        )
    suffix = code or str(answer.body.get("type") or "").rsplit("/", 1)[-1] or answer.status
    return PermanentFailure("the ledger refused the anchor", code=f"stellar_{suffix}")
