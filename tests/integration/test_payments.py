"""Payments through the API, the workers' handlers and a local Bakong Open API: KHQR codes the
independent decoder accepts, confirmation by callback and by polling (racing: completed once,
activated once), mismatches flagged, expiry, Bakong's faults, refunds, receipts, reports and
the daily reconciliation."""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from domain.errors import PermanentFailure, TransientFailure
from domain.jobs.model import Job
from domain.payments.jobs import PAYMENT_ACTIVATE, PAYMENT_POLL, PAYMENT_RECONCILE
from domain.payments.khqr import bill_number, crc_holds
from domain.webhooks.jobs import WEBHOOK_PROCESS
from domain.webhooks.receive import receive_delivery
from tests.conftest import make_settings
from tests.support.api import api_client, assert_problem
from tests.support.bakong import TOKEN, md5_of, running_bakong
from tests.support.handlers import handler_of
from tests.support.khqr_decoder import assert_every_stored_code_verifies, decoded
from tests.support.platform import running_services, wired
from tests.support.rows import audit_events, rows
from tests.support.users import add_cast
from tests.support.webhooks import NEW_SECRET, event_body, signed
from workers.handlers import bind_plan

PAYMENTS = "/api/v1/payments"
HOOK = "/api/v1/webhooks/bakong"
ACCOUNT = "healthplat@aclb"


@pytest.fixture
def bakong():
    with running_bakong() as server:
        yield server


@pytest.fixture
def pay_settings(database_url, redis_url, tmp_path, bakong):
    return make_settings(
        database_url,
        redis_url,
        tmp_path / "data",
        webhook_secrets={"bakong": (NEW_SECRET,)},
        bakong_api_url=bakong.url,
        bakong_token=TOKEN,
        bakong_account_id=ACCOUNT,
        bakong_timeout_seconds=0.5,
        bakong_app_icon_url="https://healthplat.example/icon.png",
        bakong_deeplink_callback="healthplat://payments",
        rate_limit_user_per_minute=10_000,  # one payer makes 120 payments in one test
    )


@pytest.fixture
async def services(pay_settings):
    async with running_services(pay_settings, pool_max_size=12) as built:
        yield built


@pytest.fixture
async def api(pay_settings):
    async with api_client(pay_settings) as client:
        yield client


@pytest.fixture
async def cast(services):
    return await add_cast(services)


@pytest.fixture(autouse=True)
async def every_code_checked(services):
    """After each test: every KHQR it made passes NBC's own decoder (tools/khqr)."""
    yield
    await assert_every_stored_code_verifies(services)


async def create(api, member, **body) -> dict:
    response = await api.post(PAYMENTS, json=body, headers=member.headers)
    assert response.status_code == 201, response.text
    return response.json()


def payment_row(settings, payment_id: str) -> dict:
    [row] = rows(settings.database_url, "SELECT * FROM payments WHERE id = %s", (payment_id,))
    return row


def jobs_of(settings, kind: str) -> list[Job]:
    found = rows(
        settings.database_url, "SELECT * FROM jobs WHERE kind = %s ORDER BY created_at", (kind,)
    )
    return [Job(**{k: v for k, v in row.items() if k in Job.__struct_fields__}) for row in found]


def callback(paid: dict, md5: str) -> bytes:
    return event_body(
        "payment.completed",
        md5=md5,
        hash=paid["hash"],
        amount=str(paid["amount"]),
        currency=paid["currency"],
        acknowledgedDateMs=paid["acknowledgedDateMs"],
    )


async def deliver(api, body: bytes) -> None:
    response = await api.post(HOOK, content=body, headers=signed(body, NEW_SECRET))
    assert response.status_code in (200, 202), response.text


async def process_deliveries(services, settings) -> list[dict]:
    return [
        await handler_of(WEBHOOK_PROCESS, services)(job)
        for job in jobs_of(settings, "webhook.process")
    ]


async def due_now(services) -> None:
    """Every pending payment's next check is due (as if the poller's wait had passed)."""
    async with services.pool.connection() as conn:
        await conn.execute("UPDATE payments SET next_check_at = now() - interval '1 second'")


async def poll(services) -> dict | None:
    submission = await bind_plan(PAYMENT_POLL, services.dependencies())()
    if submission is None:
        return None
    return await handler_of(PAYMENT_POLL, services)(submission.job)


# --- asking to pay ------------------------------------------------------------------------------


async def test_every_code_made_is_one_the_independent_decoder_accepts_with_our_amounts(
    api, cast, pay_settings
):
    made = [
        await create(api, cast.alice, purpose="subscription", planId="basic-monthly"),
        await create(
            api, cast.alice, purpose="subscription", planId="premium-monthly", currency="KHR"
        ),
        await create(api, cast.borey, purpose="consultation", doctorId=str(cast.chantha.id)),
    ]
    assert [(p["amountMinor"], p["currency"]) for p in made] == [
        (500, "USD"),
        (60000, "KHR"),
        (2500, "USD"),
    ]
    answers = decoded([p["khqr"] for p in made])
    for payment, answer in zip(made, answers, strict=True):
        assert answer["valid"], payment["khqr"]
        code = answer["decoded"]
        assert code["bakongAccountID"] == ACCOUNT and code["pointofInitiationMethod"] == "12"
        assert code["billNumber"] == bill_number(uuid.UUID(payment["id"]))
        assert int(code["expirationTimestamp"]) == int(
            datetime.fromisoformat(payment["expiresAt"]).timestamp() * 1000
        )
        assert payment["md5"] == hashlib.md5(payment["khqr"].encode()).hexdigest()
        assert crc_holds(payment["khqr"])
    assert [
        (a["decoded"]["transactionAmount"], a["decoded"]["transactionCurrency"]) for a in answers
    ] == [
        ("5", "840"),
        ("60000", "116"),
        ("25", "840"),
    ]
    # tampered codes fail the decoder: another amount, another CRC, one character changed
    first = made[0]["khqr"]
    tampered = [
        first.replace("54015", "54016"),
        first[:-1] + ("0" if first[-1] != "0" else "1"),
        first.replace(ACCOUNT, "healthplat@acld"),
    ]
    assert [a["valid"] for a in decoded(tampered)] == [False, False, False]


async def test_the_amount_never_comes_from_the_client(api, cast):
    sneaky = await api.post(
        PAYMENTS,
        json={"purpose": "subscription", "planId": "basic-monthly", "amountMinor": 1},
        headers=cast.alice.headers,
    )
    assert sneaky.status_code in (400, 422)
    assert_problem(
        await api.post(
            PAYMENTS, json={"purpose": "subscription", "planId": "gold"}, headers=cast.alice.headers
        ),
        404,
    )
    assert_problem(
        await api.post(
            PAYMENTS,
            json={"purpose": "consultation", "doctorId": str(cast.chantha.id), "currency": "KHR"},
            headers=cast.alice.headers,
        ),
        422,
    )
    assert_problem(
        await api.post(
            PAYMENTS,
            json={"purpose": "subscription", "planId": "basic-monthly"},
            headers=cast.chantha.headers,
        ),
        403,
    )


async def test_the_code_comes_as_png_and_svg_while_pending(api, cast):
    payment = await create(api, cast.alice, purpose="subscription", planId="basic-monthly")
    png = await api.get(payment["qrPng"], headers=cast.alice.headers)
    svg = await api.get(payment["qrSvg"], headers=cast.alice.headers)
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    assert svg.headers["content-type"].startswith("image/svg+xml") and b"<svg" in svg.content
    assert_problem(await api.get(payment["qrPng"], headers=cast.borey.headers), 404)


async def test_a_deeplink_comes_from_bakong_for_a_pending_code(api, services, cast, bakong):
    payment = await create(api, cast.alice, purpose="subscription", planId="basic-monthly")
    link = await api.get(f"{PAYMENTS}/{payment['id']}/deeplink", headers=cast.alice.headers)
    assert link.status_code == 200, link.text
    assert link.json()["deeplink"].startswith("https://bakong.page.link/")
    assert bakong.calls["/v1/generate_deeplink_by_qr"] == 1
    assert_problem(
        await api.get(f"{PAYMENTS}/{payment['id']}/deeplink", headers=cast.borey.headers), 404
    )
    bakong.outside_cambodia = True
    assert_problem(
        await api.get(f"{PAYMENTS}/{payment['id']}/deeplink", headers=cast.alice.headers), 503
    )


# --- confirmation: callback, polling, both at once ------------------------------------------------


async def test_callbacks_and_the_poller_racing_complete_the_payment_once_and_activate_it_once(
    api, services, cast, bakong, pay_settings
):
    payment = await create(api, cast.alice, purpose="subscription", planId="basic-monthly")
    paid = bakong.pay(payment["khqr"])
    body = callback(paid, payment["md5"])
    headers = signed(body, NEW_SECRET, webhook_id="msg_same")
    cases = wired(services)
    # the same callback delivered 10 times at once: one delivery
    same = await asyncio.gather(
        *(cases.run(receive_delivery, _provider(), "bakong", headers, body) for _ in range(10))
    )
    assert sum(not r.duplicate for r in same) == 1
    # and 9 more deliveries of the same transaction under other ids (the provider's retries)
    for _ in range(9):
        await deliver(api, body)
    deliveries = jobs_of(pay_settings, "webhook.process")
    assert len(deliveries) == 10
    await due_now(services)
    handle = handler_of(WEBHOOK_PROCESS, services)
    results = await asyncio.gather(*(handle(job) for job in deliveries), poll(services))
    outcomes = [r["outcome"] for r in results[:-1]]
    assert outcomes.count("completed") + results[-1].get("completed", 0) == 1
    assert set(outcomes) <= {"completed", "already_recorded"}

    row = payment_row(pay_settings, payment["id"])
    assert row["status"] == "completed" and row["transaction_hash"] == paid["hash"]
    [activation] = jobs_of(pay_settings, "payment.activate")
    assert activation.payload == {"paymentId": payment["id"]}
    assert len(audit_events(pay_settings.database_url, "payment.complete")) == 1
    result = await handler_of(PAYMENT_ACTIVATE, services)(activation)
    assert result == {"paymentId": payment["id"], "purpose": "subscription", "activated": "started"}
    [subscription] = rows(pay_settings.database_url, "SELECT * FROM subscriptions")
    assert subscription["user_id"] == cast.alice.id  # activated once: one subscription
    notices = (await api.get("/api/v1/notifications", headers=cast.alice.headers)).json()["items"]
    assert [n["type"] for n in notices] == ["payment.receipt"]
    [email] = jobs_of(pay_settings, "email.send")  # one receipt e-mail, whoever reported it
    assert email.owner_id == str(cast.alice.id)
    [message] = rows(pay_settings.database_url, "SELECT * FROM email_messages")
    assert message["template"] == "payment_receipt"
    assert b"5.00" not in bytes(message["data_sealed"])  # the amount is sealed with the rest


async def test_the_poller_asks_in_batches_of_50_and_backs_off_while_unpaid(
    api, services, cast, bakong, pay_settings
):
    made = [
        await create(api, cast.alice, purpose="subscription", planId="basic-monthly")
        for _ in range(3)
    ]
    await due_now(services)
    bakong.pay(made[1]["khqr"])
    result = await poll(services)
    assert result["completed"] == 1 and result["asked"] == 3 and result["calls"] == 1
    assert bakong.calls["/v1/check_transaction_by_md5_list"] == 1
    unpaid = payment_row(pay_settings, made[0]["id"])
    assert unpaid["status"] == "pending" and unpaid["checks"] == 1
    assert unpaid["next_check_at"] > datetime.now(UTC) + timedelta(seconds=5)
    assert await poll(services) is None  # nothing due: no job at all
    assert payment_row(pay_settings, made[1]["id"])["status"] == "completed"


async def test_many_pending_payments_are_asked_about_50_at_a_time(
    services, cast, bakong, pay_settings, api
):
    for _ in range(120):
        await create(api, cast.alice, purpose="subscription", planId="basic-monthly")
    await due_now(services)
    result = await poll(services)
    assert result["asked"] == 120 and result["calls"] == 3
    assert len(set(bakong.asked)) == 120


@pytest.mark.parametrize(
    "paid_as, review",
    [
        (dict(amount="4.99"), "amount_mismatch"),
        (dict(amount="5", currency="KHR"), "amount_mismatch"),
    ],
)
async def test_a_wrong_amount_or_currency_is_flagged_for_admins_not_completed(
    api, services, cast, bakong, pay_settings, paid_as, review
):
    payment = await create(api, cast.alice, purpose="subscription", planId="basic-monthly")
    paid = bakong.pay(payment["khqr"], **paid_as)
    await deliver(api, callback(paid, payment["md5"]))
    [result] = await process_deliveries(services, pay_settings)
    assert result["outcome"] == "flagged_for_review"
    row = payment_row(pay_settings, payment["id"])
    assert (row["status"], row["review"]) == ("failed", review)
    assert jobs_of(pay_settings, "payment.activate") == []
    admin_notices = (await api.get("/api/v1/notifications", headers=cast.eang.headers)).json()
    [notice] = admin_notices["items"]
    assert notice["type"] == "payment.review" and notice["data"]["reason"] == review
    # reported again (the poller): nothing more happens
    assert (await poll(services)) is None or payment_row(pay_settings, payment["id"])[
        "review"
    ] == review
    assert (
        len((await api.get("/api/v1/notifications", headers=cast.eang.headers)).json()["items"])
        == 1
    )


async def test_an_expired_payment_paid_late_is_flagged_and_one_paid_in_time_completes(
    api, services, cast, bakong, pay_settings
):
    late = await create(api, cast.alice, purpose="subscription", planId="basic-monthly")
    in_time = await create(api, cast.alice, purpose="subscription", planId="basic-monthly")
    before_expiry = int(time.time() * 1000) - 120_000  # paid, then the code lapsed
    in_time_paid = bakong.pay(in_time["khqr"], paid_at_ms=before_expiry)
    bakong.paid.clear()  # Bakong had not recorded it yet when the poller asked
    async with services.pool.connection() as conn:
        await conn.execute("UPDATE payments SET expires_at = now() - interval '1 minute'")
    result = await poll(services)
    assert result["expired"] == 2
    assert payment_row(pay_settings, late["id"])["status"] == "expired"
    assert len(audit_events(pay_settings.database_url, "payment.expire")) == 2

    late_paid = bakong.pay(late["khqr"])  # acknowledged now: after the code expired
    await deliver(api, callback(late_paid, late["md5"]))
    await deliver(api, callback(in_time_paid, in_time["md5"]))
    outcomes = [r["outcome"] for r in await process_deliveries(services, pay_settings)]
    assert outcomes == ["flagged_for_review", "completed"]
    assert payment_row(pay_settings, late["id"])["review"] == "paid_after_expiry"
    assert payment_row(pay_settings, in_time["id"])["status"] == "completed"


async def test_bakongs_faults_are_retried_then_left_to_the_jobs_schedule(
    api, services, cast, bakong, pay_settings
):
    payment = await create(api, cast.alice, purpose="subscription", planId="basic-monthly")
    await due_now(services)
    bakong.pay(payment["khqr"])
    bakong.outside_cambodia = True
    with pytest.raises(TransientFailure) as forbidden:
        await poll(services)
    assert forbidden.value.code == "bakong_forbidden"
    bakong.outside_cambodia = False
    bakong.delay = 1.0  # slower than BAKONG_TIMEOUT_SECONDS (0.5)
    with pytest.raises(TransientFailure) as slow:
        await poll(services)
    assert slow.value.code == "bakong_unavailable"
    bakong.delay = 0.0
    bakong.fail_next(2, 503)  # two 5xx: retried within the call, then it answers
    assert (await poll(services))["completed"] == 1
    bakong.token = "another-token"
    async with services.pool.connection() as conn:
        await conn.execute(
            "UPDATE payments SET status = 'pending', transaction_hash = NULL, "
            "next_check_at = now() - interval '1 second'"
        )
    with pytest.raises(PermanentFailure) as refused:
        await poll(services)
    assert refused.value.code == "bakong_token_refused"


# --- after completion: receipts, refunds, reports, reconciliation -------------------------------


async def complete(api, services, bakong, settings, member, **paid_as) -> dict:
    payment = await create(api, member, purpose="subscription", planId="basic-monthly")
    paid = bakong.pay(payment["khqr"], **paid_as)
    await deliver(api, callback(paid, payment["md5"]))
    for job in jobs_of(settings, "webhook.process")[-1:]:
        assert (await handler_of(WEBHOOK_PROCESS, services)(job))["outcome"] == "completed"
    return payment


async def test_a_receipt_once_completed_and_refunds_approved_by_an_admin(
    api, services, cast, bakong, pay_settings
):
    pending = await create(api, cast.alice, purpose="subscription", planId="basic-monthly")
    assert_problem(
        await api.get(f"{PAYMENTS}/{pending['id']}/receipt", headers=cast.alice.headers), 409
    )
    payment = await complete(api, services, bakong, pay_settings, cast.alice)
    receipt = await api.get(f"{PAYMENTS}/{payment['id']}/receipt", headers=cast.alice.headers)
    assert receipt.status_code == 200, receipt.text
    assert receipt.json()["receiptNumber"] == bill_number(uuid.UUID(payment["id"]))
    assert receipt.json()["amountMinor"] == 500

    refund = f"{PAYMENTS}/{payment['id']}/refund"
    assert_problem(
        await api.post(refund, json={"amountMinor": 501}, headers=cast.alice.headers), 422
    )
    asked = await api.post(refund, json={"amountMinor": 200}, headers=cast.alice.headers)
    assert asked.json()["status"] == "refund_pending"
    assert_problem(
        await api.post(refund, json={"amountMinor": 100}, headers=cast.alice.headers), 409
    )
    assert_problem(await api.post(f"{refund}/approve", headers=cast.alice.headers), 403)
    approved = await api.post(f"{refund}/approve", headers=cast.eang.headers)
    assert (approved.json()["status"], approved.json()["refundedMinor"]) == ("refunded", 200)
    await api.post(refund, json={"amountMinor": 300}, headers=cast.alice.headers)
    rest = await api.post(f"{refund}/approve", headers=cast.eang.headers)
    assert rest.json()["refundedMinor"] == 500
    assert_problem(await api.post(refund, json={"amountMinor": 1}, headers=cast.alice.headers), 422)
    assert_problem(await api.post(refund, json={"amountMinor": 1}, headers=cast.borey.headers), 404)
    assert len(audit_events(pay_settings.database_url, "payment.approve_refund")) == 2


async def test_admins_list_payments_by_status_and_date_with_totals_per_currency(
    api, services, cast, bakong, pay_settings
):
    await complete(api, services, bakong, pay_settings, cast.alice)
    await complete(api, services, bakong, pay_settings, cast.borey)
    await create(api, cast.alice, purpose="subscription", planId="premium-monthly", currency="KHR")
    everything = (await api.get(PAYMENTS, headers=cast.eang.headers)).json()
    assert everything["totals"] == {"USD": 1000, "KHR": 60000}
    done = (
        await api.get(PAYMENTS, params={"status": "completed"}, headers=cast.eang.headers)
    ).json()
    assert len(done["items"]) == 2 and done["totals"] == {"USD": 1000}
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    later = await api.get(PAYMENTS, params={"from": tomorrow}, headers=cast.eang.headers)
    assert later.json() == {"items": [], "nextCursor": None, "totals": {}}
    mine = (await api.get(PAYMENTS, headers=cast.borey.headers)).json()
    assert len(mine["items"]) == 1 and mine["totals"] == {"USD": 500}
    paged = (await api.get(PAYMENTS, params={"limit": 2}, headers=cast.eang.headers)).json()
    rest = await api.get(
        PAYMENTS, params={"limit": 2, "cursor": paged["nextCursor"]}, headers=cast.eang.headers
    )
    assert len(paged["items"]) + len(rest.json()["items"]) == 3


async def test_the_daily_reconciliation_tells_admins_of_what_bakong_no_longer_confirms(
    api, services, cast, bakong, pay_settings
):
    kept = await complete(api, services, bakong, pay_settings, cast.alice)
    gone = await complete(api, services, bakong, pay_settings, cast.borey)
    # Noon of the UTC day before, taken just before the job runs: the payments stay in the
    # day it checks unless midnight passes in the few milliseconds between.
    noon_today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    noon_yesterday = noon_today - timedelta(days=1)
    yesterday_ms = int(noon_yesterday.timestamp() * 1000)
    async with services.pool.connection() as conn:  # as if both were paid yesterday
        await conn.execute(
            "UPDATE payments SET completed_at = to_timestamp(%s / 1000.0)", (yesterday_ms,)
        )
    del bakong.paid[md5_of(gone["khqr"])]
    submission = await bind_plan(PAYMENT_RECONCILE, services.dependencies())()
    result = await handler_of(PAYMENT_RECONCILE, services)(submission.job)
    assert result == {"checked": 2, "mismatched": 1}
    [notice] = (await api.get("/api/v1/notifications", headers=cast.eang.headers)).json()["items"]
    assert notice["data"] == {"paymentId": gone["id"], "reason": "reconciliation_mismatch"}
    assert kept["id"] != gone["id"]


def _provider():
    from domain.auditing import AuditContext

    return AuditContext(actor_id=None, actor_role=None)
