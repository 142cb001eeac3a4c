"""A local Horizon-compatible server for tests: a one-validator Stellar "network" in a thread.

No Stellar network can run here (SERVICES.md), so this stands in for Horizon +
stellar-core, and checks what they check: the network passphrase (signatures
are over the network id, so a wrong passphrase is tx_bad_auth), the source
account's signature, sequence == current + 1 (tx_bad_seq), time bounds
(tx_too_early / tx_too_late), fee >= minimum per operation (tx_insufficient_fee,
with the required fee as the result's fee_charged, as core reports it), the
balance, and one transaction per source account per ledger.

It answers the way a synchronous Horizon (POST /transactions) does:

* a transaction is held until the ledger that includes it closes (every
  ``ledger_seconds``), then 200 with the transaction resource;
* a refusal is 400 ``transaction_failed`` with ``extras.result_codes``;
* stellar-core's TRY_AGAIN_LATER (a second transaction from an account in one
  ledger, or a full queue) is not an error to Horizon: it waits for the
  transaction to appear, and after its submission timeout answers 504
  ``timeout`` with ``extras.hash`` (the async endpoint would say 503
  TRY_AGAIN_LATER; Horizon says 503 too when its core is out of sync);
* resubmitting a transaction that already landed returns its result (Horizon
  looks the hash up first), unless ``dedupe_by_hash`` is turned off.

Fault injection: ``down()``/``up()`` (connections refused, then accepted on the
same port), ``hang_next`` (no answer; optionally after the transaction landed),
``drop_next_response`` (lands, then the connection closes), ``try_again_later``,
``unavailable`` (503), ``bump_sequence`` behind the client's back, and
``min_fee`` for a fee surge.

It runs its own threads (ThreadingHTTPServer + a ledger clock), so it answers
the test's event loop and worker subprocesses alike.
"""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from stellar_sdk import (
    HashMemo,
    IdMemo,
    Keypair,
    NoneMemo,
    ReturnHashMemo,
    TextMemo,
    TransactionEnvelope,
)
from stellar_sdk import xdr as stellar_xdr
from stellar_sdk.exceptions import BadSignatureError
from stellar_sdk.network import Network
from stellar_sdk.operation import BumpSequence, ManageData

from tests.support.servers import free_port

STROOPS_PER_XLM = 10_000_000
BASE_RESERVE = STROOPS_PER_XLM // 2
FIRST_LEDGER = 1_000
_PROBLEM = "https://stellar.org/horizon-errors/"
Code = stellar_xdr.TransactionResultCode


@dataclass
class LedgerAccount:
    id: str
    sequence: int
    balance: int  # stroops
    last_modified_ledger: int
    data: dict[str, bytes] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        whole, fraction = divmod(self.balance, STROOPS_PER_XLM)
        return {
            "id": self.id,
            "account_id": self.id,
            "paging_token": self.id,
            "sequence": str(self.sequence),
            "subentry_count": len(self.data),
            "last_modified_ledger": self.last_modified_ledger,
            "thresholds": {"low_threshold": 0, "med_threshold": 0, "high_threshold": 0},
            "flags": {"auth_required": False, "auth_revocable": False, "auth_immutable": False},
            "balances": [
                {
                    "balance": f"{whole}.{fraction:07d}",
                    "buying_liabilities": "0.0000000",
                    "selling_liabilities": "0.0000000",
                    "asset_type": "native",
                }
            ],
            "signers": [{"weight": 1, "key": self.id, "type": "ed25519_public_key"}],
            "data": {k: base64.b64encode(v).decode() for k, v in self.data.items()},
        }


@dataclass
class _Pending:
    envelope: TransactionEnvelope
    envelope_xdr: str
    tx_hash: str
    source: str


@dataclass
class _Fault:
    kind: str  # "hang" | "drop" | "try_again_later" | "unavailable"
    method: str
    path_prefix: str
    seconds: float = 0.0
    after_landing: bool = False


@dataclass
class _Reply:
    status: int
    body: dict[str, Any] | None  # None: close the connection without answering
    hang_seconds: float = 0.0  # wait this long (or until down) before answering/closing


class HorizonServer:
    def __init__(
        self,
        network_passphrase: str = Network.TESTNET_NETWORK_PASSPHRASE,
        *,
        ledger_seconds: float = 0.2,
        submission_timeout: float = 1.0,
        min_fee: int = 100,
        host: str = "127.0.0.1",
        port: int | None = None,
    ) -> None:
        self.network_passphrase = network_passphrase
        self.ledger_seconds = ledger_seconds
        self.submission_timeout = submission_timeout
        self.min_fee = min_fee  # per operation; raise it to simulate a surge
        self.dedupe_by_hash = True
        self.host = host
        self.port = port or free_port()
        self.ledger = FIRST_LEDGER  # the last closed ledger
        self.accounts: dict[str, LedgerAccount] = {}
        self.transactions: dict[str, dict[str, Any]] = {}  # hash -> resource, in landing order
        self.submissions = 0  # POST /transactions received
        self._pending: list[_Pending] = []
        self._outcomes: dict[str, tuple[int, dict[str, Any]]] = {}  # hash -> reply at close
        self._faults: list[_Fault] = []
        self._lock = threading.Condition()
        self._stopped = threading.Event()
        self._down = threading.Event()
        self._paused = threading.Event()
        self._connections: set[socket.socket] = set()
        self._httpd: ThreadingHTTPServer | None = None
        self._http_thread: threading.Thread | None = None
        self._ledger_thread = threading.Thread(target=self._close_ledgers, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> HorizonServer:
        self._listen()
        self._ledger_thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._unlisten()
        with self._lock:
            self._lock.notify_all()
        self._ledger_thread.join(timeout=5)

    def down(self) -> None:
        """Stop listening and cut open connections: clients get 'connection refused'."""
        self._down.set()
        self._unlisten()

    def up(self) -> None:
        """Listen again on the same port."""
        self._down.clear()
        self._listen()

    def _listen(self) -> None:
        handler = type("Handler", (_Handler,), {"horizon": self})
        httpd = _Server((self.host, self.port), handler)
        self._httpd = httpd
        self._http_thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._http_thread.start()

    def _unlisten(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        with self._lock:
            open_connections = list(self._connections)
        for conn in open_connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._http_thread is not None:
            self._http_thread.join(timeout=5)

    # --- accounts and ledgers ------------------------------------------------------------

    def fund(self, account_id: str, xlm: int = 10_000) -> int:
        """Create a funded account; its sequence starts at ledger << 32, as on Stellar."""
        Keypair.from_public_key(account_id)  # a real G... key or ValueError
        with self._lock:
            sequence = self.ledger << 32
            self.accounts[account_id] = LedgerAccount(
                account_id, sequence, xlm * STROOPS_PER_XLM, self.ledger
            )
            return sequence

    def sequence_of(self, account_id: str) -> int:
        with self._lock:
            return self.accounts[account_id].sequence

    def bump_sequence(self, account_id: str, by: int = 1) -> None:
        """Another party used the account: its sequence moves without us."""
        with self._lock:
            self.accounts[account_id].sequence += by

    def landed(self, account_id: str | None = None) -> list[dict[str, Any]]:
        """The transactions in closed ledgers (of one source account), oldest first."""
        with self._lock:
            return [
                tx
                for tx in self.transactions.values()
                if account_id is None or tx["source_account"] == account_id
            ]

    def wait_for_ledger(self, number: int, timeout: float = 10.0) -> None:
        with self._lock:
            if not self._lock.wait_for(lambda: self.ledger >= number, timeout=timeout):
                raise TimeoutError(f"ledger {number} did not close")

    @contextlib.contextmanager
    def ledgers_paused(self) -> Iterator[None]:
        """No ledger closes inside the block: what is pending stays pending."""
        self._paused.set()
        try:
            yield
        finally:
            self._paused.clear()

    def wait_for_pending(self, count: int, timeout: float = 10.0) -> None:
        """Until ``count`` transactions wait in the open ledger."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self._pending) >= count, timeout=timeout):
                raise TimeoutError(f"{count} pending transaction(s) never arrived")

    def _close_ledgers(self) -> None:
        while not self._stopped.wait(self.ledger_seconds):
            if self._paused.is_set():
                continue
            with self._lock:
                self._close_one()

    def _close_one(self) -> None:
        self.ledger += 1
        for pending in self._pending:
            self._outcomes[pending.tx_hash] = self._apply(pending)
        self._pending.clear()
        self._lock.notify_all()

    def _apply(self, pending: _Pending) -> tuple[int, dict[str, Any]]:
        account = self.accounts[pending.source]
        tx = pending.envelope.transaction
        if tx.sequence != account.sequence + 1:  # moved after it was queued
            return self._refusal(pending, Code.txBAD_SEQ, tx.fee)
        account.sequence = tx.sequence
        account.balance -= tx.fee
        account.last_modified_ledger = self.ledger
        op_results = []
        for operation in tx.operations:
            if isinstance(operation, BumpSequence):
                account.sequence = max(account.sequence, operation.bump_to)
                tr = stellar_xdr.OperationResultTr(
                    type=stellar_xdr.OperationType.BUMP_SEQUENCE,
                    bump_seq_result=stellar_xdr.BumpSequenceResult(
                        stellar_xdr.BumpSequenceResultCode.BUMP_SEQUENCE_SUCCESS
                    ),
                )
            else:
                assert isinstance(operation, ManageData)  # checked at submission
                if operation.data_value is None:
                    account.data.pop(operation.data_name, None)
                else:
                    account.data[operation.data_name] = operation.data_value
                tr = stellar_xdr.OperationResultTr(
                    type=stellar_xdr.OperationType.MANAGE_DATA,
                    manage_data_result=stellar_xdr.ManageDataResult(
                        stellar_xdr.ManageDataResultCode.MANAGE_DATA_SUCCESS
                    ),
                )
            op_results.append(
                stellar_xdr.OperationResult(code=stellar_xdr.OperationResultCode.opINNER, tr=tr)
            )
        result_xdr = _result_xdr(Code.txSUCCESS, tx.fee, op_results)
        resource = self._resource(pending, result_xdr)
        self.transactions[pending.tx_hash] = resource
        return 200, resource

    def _resource(self, pending: _Pending, result_xdr: str) -> dict[str, Any]:
        """The transaction as Horizon's /transactions/{hash} shows it."""
        tx = pending.envelope.transaction
        memo_type, memo = _memo_json(tx.memo)
        bounds = tx.preconditions.time_bounds if tx.preconditions else None
        resource: dict[str, Any] = {
            "id": pending.tx_hash,
            "paging_token": str(self.ledger << 32 | len(self.transactions) + 1),
            "successful": True,
            "hash": pending.tx_hash,
            "ledger": self.ledger,
            "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "source_account": pending.source,
            "source_account_sequence": str(tx.sequence),
            "fee_account": pending.source,
            "fee_charged": str(tx.fee),
            "max_fee": str(tx.fee),
            "operation_count": len(tx.operations),
            "envelope_xdr": pending.envelope_xdr,
            "result_xdr": result_xdr,
            "memo_type": memo_type,
            "signatures": [
                base64.b64encode(s.signature).decode() for s in pending.envelope.signatures
            ],
        }
        if memo is not None:
            resource["memo"] = memo
        if bounds is not None:
            resource["preconditions"] = {
                "timebounds": {"min_time": str(bounds.min_time), "max_time": str(bounds.max_time)}
            }
        return resource

    # --- fault injection -----------------------------------------------------------------

    def hang_next(
        self,
        seconds: float,
        *,
        after_landing: bool = False,
        method: str = "POST",
        path_prefix: str = "/transactions",
    ) -> None:
        """The next matching request gets no answer for ``seconds``, then its connection closes.
        With ``after_landing`` the transaction is processed (and lands) first."""
        self._add_fault(_Fault("hang", method, path_prefix, seconds, after_landing))

    def drop_next_response(self) -> None:
        """The next transaction lands, then its connection closes without an answer."""
        self._add_fault(_Fault("drop", "POST", "/transactions", after_landing=True))

    def try_again_later(self, count: int = 1) -> None:
        """The next ``count`` submissions meet a full queue: core says TRY_AGAIN_LATER."""
        for _ in range(count):
            self._add_fault(_Fault("try_again_later", "POST", "/transactions"))

    def unavailable(self, count: int = 1) -> None:
        """The next ``count`` submissions get 503 (Horizon's core is not in sync)."""
        for _ in range(count):
            self._add_fault(_Fault("unavailable", "POST", "/transactions"))

    def _add_fault(self, fault: _Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        with self._lock:
            for index, fault in enumerate(self._faults):
                if fault.method == method and path.startswith(fault.path_prefix):
                    return self._faults.pop(index)
        return None

    # --- requests ------------------------------------------------------------------------

    def handle(self, method: str, path: str, query: dict[str, list[str]], form: bytes) -> _Reply:
        fault = self._take_fault(method, path)
        if fault is not None and fault.kind == "hang" and not fault.after_landing:
            return _Reply(0, None, hang_seconds=fault.seconds)
        if fault is not None and fault.kind == "unavailable":
            return _Reply(503, _problem(503, "service_unavailable", "Service Unavailable"))
        parts = [unquote(p) for p in path.strip("/").split("/") if p]
        if method == "POST" and parts == ["transactions"]:
            self.submissions += 1
            reply = self._submit(
                form, try_again_later=fault is not None and fault.kind == "try_again_later"
            )
        elif method == "GET":
            reply = self._get(parts, query)
        else:
            reply = _Reply(404, _not_found())
        if fault is not None and fault.kind == "hang":
            return _Reply(0, None, hang_seconds=fault.seconds)
        if fault is not None and fault.kind == "drop":
            return _Reply(0, None)
        return reply

    def _get(self, parts: list[str], query: dict[str, list[str]]) -> _Reply:
        with self._lock:
            if parts == []:
                return _Reply(
                    200,
                    {
                        "horizon_version": "healthplat-test",
                        "network_passphrase": self.network_passphrase,
                        "history_latest_ledger": self.ledger,
                        "core_latest_ledger": self.ledger,
                    },
                )
            if len(parts) == 2 and parts[0] == "accounts" and parts[1] in self.accounts:
                return _Reply(200, self.accounts[parts[1]].as_json())
            if len(parts) == 2 and parts[0] == "transactions" and parts[1] in self.transactions:
                return _Reply(200, self.transactions[parts[1]])
            if parts[:1] == ["accounts"] and parts[2:] == ["transactions"]:
                if parts[1] not in self.accounts:
                    return _Reply(404, _not_found())
                records = self._landed_locked(parts[1])
                if query.get("order", ["asc"])[-1] == "desc":
                    records.reverse()
                limit = int(query.get("limit", ["10"])[-1])
                return _Reply(200, {"_links": {}, "_embedded": {"records": records[:limit]}})
            return _Reply(404, _not_found())

    def _landed_locked(self, account_id: str) -> list[dict[str, Any]]:
        return [tx for tx in self.transactions.values() if tx["source_account"] == account_id]

    def _submit(self, form: bytes, *, try_again_later: bool) -> _Reply:
        fields = parse_qs(form.decode("ascii", "replace"))
        envelope_xdr = (fields.get("tx") or [""])[-1]
        try:
            envelope = TransactionEnvelope.from_xdr(envelope_xdr, self.network_passphrase)
            tx_hash = envelope.hash_hex()
        except Exception:
            return _Reply(400, _malformed(envelope_xdr))
        tx = envelope.transaction
        source = tx.source.account_id
        pending = _Pending(envelope, envelope_xdr, tx_hash, source)
        with self._lock:
            if self.dedupe_by_hash and tx_hash in self.transactions:
                return _Reply(200, self.transactions[tx_hash])
            queued = any(p.tx_hash == tx_hash for p in self._pending)
            busy = try_again_later or any(p.source == source for p in self._pending)
            if not queued and busy:
                return self._try_again_later(tx_hash)
            if not queued:
                refusal = self._check(pending)
                if refusal is not None:
                    return _Reply(*refusal)
                self._pending.append(pending)
                self._lock.notify_all()
            return self._await_outcome(tx_hash)

    def _await_outcome(self, tx_hash: str) -> _Reply:
        """Horizon's wait for the ledger that includes the transaction; 504 when it runs out.
        While ledgers are paused the wait does not run out (no ledger could have closed)."""
        deadline = time.monotonic() + self.submission_timeout
        while tx_hash not in self._outcomes and not self._stopped.is_set():
            if self._paused.is_set():
                deadline = time.monotonic() + self.submission_timeout
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return _Reply(504, _timeout(tx_hash))
            self._lock.wait(min(remaining, 0.05))
        if tx_hash not in self._outcomes:
            return _Reply(504, _timeout(tx_hash))
        return _Reply(*self._outcomes[tx_hash])

    def _try_again_later(self, tx_hash: str) -> _Reply:
        """Core refused it for now; sync Horizon waits for it anyway, then times out."""
        self._lock.wait_for(self._stopped.is_set, timeout=self.submission_timeout)
        return _Reply(504, _timeout(tx_hash))

    def _check(self, pending: _Pending) -> tuple[int, dict[str, Any]] | None:
        """stellar-core's validity checks, in its order; None when the transaction is valid."""
        tx = pending.envelope.transaction
        if not tx.operations:
            return self._refusal(pending, Code.txMISSING_OPERATION, tx.fee)
        bounds = tx.preconditions.time_bounds if tx.preconditions else None
        now = int(time.time())
        if bounds is not None and bounds.min_time and now < bounds.min_time:
            return self._refusal(pending, Code.txTOO_EARLY, tx.fee)
        if bounds is not None and bounds.max_time and now > bounds.max_time:
            return self._refusal(pending, Code.txTOO_LATE, tx.fee)
        required = self.min_fee * len(tx.operations)
        if tx.fee < required:
            return self._refusal(pending, Code.txINSUFFICIENT_FEE, required)
        account = self.accounts.get(pending.source)
        if account is None:
            return self._refusal(pending, Code.txNO_ACCOUNT, tx.fee)
        if tx.sequence != account.sequence + 1:
            return self._refusal(pending, Code.txBAD_SEQ, tx.fee)
        auth = self._auth(pending)
        if auth is not None:
            return self._refusal(pending, auth, tx.fee)
        if account.balance - tx.fee < 2 * BASE_RESERVE + BASE_RESERVE * len(account.data):
            return self._refusal(pending, Code.txINSUFFICIENT_BALANCE, tx.fee)
        if not all(isinstance(op, BumpSequence | ManageData) for op in tx.operations):
            return self._refusal(pending, Code.txNOT_SUPPORTED, tx.fee)
        return None

    def _auth(self, pending: _Pending) -> stellar_xdr.TransactionResultCode | None:
        key = Keypair.from_public_key(pending.source)
        signature_base = pending.envelope.hash()  # over the network id: a wrong passphrase fails
        used = 0
        for decorated in pending.envelope.signatures:
            if decorated.signature_hint != key.signature_hint():
                continue
            with contextlib.suppress(BadSignatureError):
                key.verify(signature_base, decorated.signature)
                used += 1
        if used == 0:
            return Code.txBAD_AUTH
        if used != len(pending.envelope.signatures):
            return Code.txBAD_AUTH_EXTRA
        return None

    def _refusal(
        self, pending: _Pending, code: stellar_xdr.TransactionResultCode, fee_charged: int
    ) -> tuple[int, dict[str, Any]]:
        result_xdr = _result_xdr(code, fee_charged)
        body = _problem(400, "transaction_failed", "Transaction Failed")
        body["detail"] = (
            "The transaction failed when submitted to the stellar network. "
            "The `extras.result_codes` field on this response contains further details."
        )
        body["extras"] = {
            "envelope_xdr": pending.envelope_xdr,
            "result_xdr": result_xdr,
            "result_codes": {"transaction": _code_name(code)},
            "hash": pending.tx_hash,
        }
        return 400, body


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up (timeout, reset) is expected in these tests


class _Handler(BaseHTTPRequestHandler):
    horizon: HorizonServer
    protocol_version = "HTTP/1.0"  # one request per connection: down() leaves nothing open

    def setup(self) -> None:
        super().setup()
        with self.horizon._lock:
            self.horizon._connections.add(self.connection)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        with self.horizon._lock:
            self.horizon._connections.discard(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        form = self.rfile.read(length) if length else b""
        reply = self.horizon.handle(method, parts.path, parse_qs(parts.query), form)
        if reply.hang_seconds:
            self.horizon._down.wait(reply.hang_seconds)
        if reply.body is None:
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        payload = json.dumps(reply.body).encode()
        content_type = "application/json" if reply.status < 400 else "application/problem+json"
        with contextlib.suppress(OSError):
            self.send_response(reply.status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)


def _problem(status: int, kind: str, title: str) -> dict[str, Any]:
    return {"type": _PROBLEM + kind, "title": title, "status": status, "detail": title}


def _not_found() -> dict[str, Any]:
    body = _problem(404, "not_found", "Resource Missing")
    body["detail"] = "The resource at the url requested was not found."
    return body


def _timeout(tx_hash: str) -> dict[str, Any]:
    body = _problem(504, "timeout", "Timeout")
    body["detail"] = (
        "Your request timed out before completing. Please try your request again. If you are "
        "submitting a transaction make sure you are sending exactly the same transaction "
        "(with the same sequence number)."
    )
    body["extras"] = {"hash": tx_hash}
    return body


def _malformed(envelope_xdr: str) -> dict[str, Any]:
    body = _problem(400, "transaction_malformed", "Transaction Malformed")
    body["extras"] = {"envelope_xdr": envelope_xdr}
    return body


def _code_name(code: stellar_xdr.TransactionResultCode) -> str:
    """Horizon's spelling: txBAD_SEQ -> tx_bad_seq."""
    return "tx_" + code.name.removeprefix("tx").lower()


def _result_xdr(
    code: stellar_xdr.TransactionResultCode,
    fee_charged: int,
    op_results: list[stellar_xdr.OperationResult] | None = None,
) -> str:
    result = stellar_xdr.TransactionResult(
        fee_charged=stellar_xdr.Int64(fee_charged),
        result=stellar_xdr.TransactionResultResult(code=code, results=op_results),
        ext=stellar_xdr.TransactionResultExt(0),
    )
    return result.to_xdr()


def _memo_json(memo: Any) -> tuple[str, str | None]:
    if isinstance(memo, HashMemo):
        return "hash", base64.b64encode(memo.memo_hash).decode()
    if isinstance(memo, ReturnHashMemo):
        return "return", base64.b64encode(memo.memo_return).decode()
    if isinstance(memo, TextMemo):
        return "text", memo.memo_text.decode("utf-8", "replace")
    if isinstance(memo, IdMemo):
        return "id", str(memo.memo_id)
    assert memo is None or isinstance(memo, NoneMemo)
    return "none", None


@contextlib.contextmanager
def running_horizon(**options: Any) -> Iterator[HorizonServer]:
    server = HorizonServer(**options).start()
    try:
        yield server
    finally:
        server.stop()
