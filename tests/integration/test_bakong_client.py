"""The project's Bakong Open API client against the local Bakong server: exact amounts, unpaid
codes, batches, faults; and the local server refusing what the real API refuses."""

from __future__ import annotations

import hashlib
import uuid

import httpx
import pytest

from domain.adapters.payments.bakong import BakongOpenApi
from domain.errors import PermanentFailure, TransientFailure
from domain.payments.money import Currency
from tests.support.bakong import MANY, ONE, TOKEN, running_bakong
from tests.support.payments import new_payment


@pytest.fixture
def bakong():
    with running_bakong() as server:
        yield server


@pytest.fixture
async def client(bakong):
    made = BakongOpenApi(bakong.url, TOKEN, timeout_seconds=0.5)
    yield made
    await made.close()


async def test_a_paid_code_is_read_exactly_and_an_unpaid_one_is_none(bakong, client) -> None:
    payment = new_payment(uuid.uuid4(), amount_minor=1250)
    other = new_payment(uuid.uuid4())
    sent = bakong.pay(payment.khqr, amount="12.50")
    paid = await client.check(payment.md5)
    assert paid is not None and (paid.amount_minor, paid.currency) == (1250, Currency.USD)
    assert paid.hash == sent["hash"]
    assert await client.check(other.md5) is None
    both = await client.check_many([payment.md5, other.md5])
    assert list(both) == [payment.md5]
    assert (bakong.calls[ONE], bakong.calls[MANY]) == (2, 1)


async def test_batches_are_at_most_50(client) -> None:
    with pytest.raises(ValueError):
        await client.check_many([hashlib.md5(str(i).encode()).hexdigest() for i in range(51)])


async def test_5xx_is_tried_three_times_then_transient(bakong, client) -> None:
    bakong.fail_next(3, 502)
    with pytest.raises(TransientFailure) as caught:
        await client.check("0" * 32)
    assert caught.value.code == "bakong_unavailable"
    assert bakong.calls[ONE] == 0  # the three tries all met the fault
    assert await client.check("0" * 32) is None  # and the next call goes through


async def test_a_wrong_token_is_permanent(bakong) -> None:
    wrong = BakongOpenApi(bakong.url, "not-the-token", timeout_seconds=0.5)
    try:
        with pytest.raises(PermanentFailure):
            await wrong.check("0" * 32)
    finally:
        await wrong.close()


@pytest.mark.parametrize(
    "path, body",
    [
        (ONE, {"md5": "not-an-md5"}),
        (ONE, {"md5": "0" * 32, "extra": 1}),
        (MANY, []),
        (MANY, ["0" * 32] * 51),
        (MANY, {"md5": "0" * 32}),
    ],
)
async def test_the_local_server_refuses_what_the_real_api_refuses(bakong, path, body) -> None:
    async with httpx.AsyncClient(base_url=bakong.url) as http:
        answer = await http.post(path, json=body, headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 400 and answer.json()["errorCode"] == 5
