"""The local Horizon refuses what Horizon and stellar-core refuse, in Horizon's own words.

Driven through the SDK's synchronous ``Server`` (as any other HTTP client,
such as a worker subprocess, would reach it), so the fake is checked apart
from the adapter it is used to test.
"""

from __future__ import annotations

import base64
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from stellar_sdk import (
    Account,
    HashMemo,
    Keypair,
    Network,
    Server,
    TransactionBuilder,
    TransactionEnvelope,
)
from stellar_sdk.client.requests_client import RequestsClient
from stellar_sdk.exceptions import (
    BadRequestError,
    BadResponseError,
    ConnectionError,
    NotFoundError,
)

from tests.support.horizon import HorizonServer

TESTNET = Network.TESTNET_NETWORK_PASSPHRASE
ROOT = bytes(range(32))


@pytest.fixture
def server(horizon: HorizonServer) -> Iterator[Server]:
    # no retries of its own: each call is one request, so each answer is the fake's own
    with Server(horizon.url, client=RequestsClient(num_retries=0)) as client:
        yield client


def envelope(
    keypair: Keypair,
    sequence: int,
    *,
    passphrase: str = TESTNET,
    fee: int = 100,
    max_time: int = 0,
    signers: tuple[Keypair, ...] | None = None,
) -> TransactionEnvelope:
    built = (
        TransactionBuilder(Account(keypair.public_key, sequence - 1), passphrase, base_fee=fee)
        .add_memo(HashMemo(ROOT))
        .append_bump_sequence_op(0)
        .add_time_bounds(0, max_time)
        .build()
    )
    for signer in signers or (keypair,):
        built.sign(signer)
    return built


def refusal(server: Server, tx: TransactionEnvelope) -> str:
    with pytest.raises(BadRequestError) as caught:
        server.submit_transaction(tx, skip_memo_required_check=True)
    assert caught.value.status == 400
    assert caught.value.type == "https://stellar.org/horizon-errors/transaction_failed"
    assert caught.value.result_xdr
    return caught.value.extras["result_codes"]["transaction"]


def test_a_valid_transaction_lands_and_reads_back_like_horizon(
    horizon: HorizonServer, server: Server
) -> None:
    keypair = Keypair.random()
    sequence = horizon.fund(keypair.public_key)
    assert server.load_account(keypair.public_key).sequence == sequence
    tx = envelope(keypair, sequence + 1)

    body = server.submit_transaction(tx, skip_memo_required_check=True)

    assert body["hash"] == tx.hash_hex()
    assert body["successful"] is True
    assert body["memo_type"] == "hash"
    assert base64.b64decode(body["memo"]) == ROOT
    assert body["source_account_sequence"] == str(sequence + 1)
    assert server.transactions().transaction(tx.hash_hex()).call() == body
    records = server.transactions().for_account(keypair.public_key).call()["_embedded"]["records"]
    assert records == [body]
    # sent again: Horizon finds the hash and answers with the same result
    assert server.submit_transaction(tx, skip_memo_required_check=True) == body
    assert len(horizon.landed()) == 1


def test_it_refuses_what_the_network_refuses(horizon: HorizonServer, server: Server) -> None:
    keypair = Keypair.random()
    sequence = horizon.fund(keypair.public_key)
    stranger = Keypair.random()
    public = Network.PUBLIC_NETWORK_PASSPHRASE
    assert refusal(server, envelope(keypair, sequence + 2)) == "tx_bad_seq"
    assert refusal(server, envelope(keypair, sequence + 1, passphrase=public)) == "tx_bad_auth"
    assert refusal(server, envelope(keypair, sequence + 1, signers=(stranger,))) == "tx_bad_auth"
    both = (keypair, stranger)
    assert refusal(server, envelope(keypair, sequence + 1, signers=both)) == "tx_bad_auth_extra"
    assert refusal(server, envelope(keypair, sequence + 1, max_time=1)) == "tx_too_late"
    assert refusal(server, envelope(stranger, 1)) == "tx_no_account"
    horizon.min_fee = 300
    assert refusal(server, envelope(keypair, sequence + 1)) == "tx_insufficient_fee"
    assert horizon.landed() == []


def test_errors_are_horizon_problems(horizon: HorizonServer, server: Server) -> None:
    with pytest.raises(NotFoundError) as missing:
        server.load_account(Keypair.random().public_key)
    assert missing.value.type == "https://stellar.org/horizon-errors/not_found"
    with pytest.raises(urllib.error.HTTPError) as malformed:  # the SDK would not send it
        urllib.request.urlopen(f"{horizon.url}/transactions", data=b"tx=AAAA", timeout=5)
    assert malformed.value.code == 400
    problem = json.loads(malformed.value.read())
    assert problem["type"] == "https://stellar.org/horizon-errors/transaction_malformed"
    horizon.unavailable()
    keypair = Keypair.random()
    sequence = horizon.fund(keypair.public_key)
    with pytest.raises(BadResponseError) as unavailable:
        server.submit_transaction(envelope(keypair, sequence + 1), skip_memo_required_check=True)
    assert unavailable.value.status == 503


def test_one_transaction_per_account_per_ledger(horizon: HorizonServer, server: Server) -> None:
    """A second transaction while one is pending meets TRY_AGAIN_LATER in core; synchronous
    Horizon waits for it anyway and answers 504 with its hash."""
    keypair = Keypair.random()
    sequence = horizon.fund(keypair.public_key)
    first, second = envelope(keypair, sequence + 1), envelope(keypair, sequence + 2)
    landed: list[dict[str, Any]] = []

    def submit_first() -> None:
        landed.append(server.submit_transaction(first, skip_memo_required_check=True))

    with horizon.ledgers_paused():
        thread = threading.Thread(target=submit_first)
        thread.start()
        horizon.wait_for_pending(1)
        with pytest.raises(BadResponseError) as caught:
            server.submit_transaction(second, skip_memo_required_check=True)
    thread.join(timeout=10)

    assert caught.value.status == 504
    assert caught.value.type == "https://stellar.org/horizon-errors/timeout"
    assert caught.value.extras["hash"] == second.hash_hex()
    assert [body["hash"] for body in landed] == [first.hash_hex()]


def test_down_refuses_connections_and_up_serves_again(
    horizon: HorizonServer, server: Server
) -> None:
    keypair = Keypair.random()
    horizon.fund(keypair.public_key)
    horizon.down()
    with pytest.raises(ConnectionError):
        server.load_account(keypair.public_key)
    horizon.up()
    assert server.load_account(keypair.public_key).account.account_id == keypair.public_key
