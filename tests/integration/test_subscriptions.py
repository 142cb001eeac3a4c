"""Subscriptions through payments, the activation job and the daily upkeep, on a clock the test
moves: subscribe -> pay -> active, renewal by paying again, reminders (in-app and e-mail)
before the end, grace, expiry, cancelling at period end, pro-rated upgrades, downgrades at
renewal, and the one entitlement check."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.jobs.model import Job
from domain.payments.jobs import PAYMENT_ACTIVATE
from domain.subscriptions.jobs import SUBSCRIPTION_UPKEEP
from domain.subscriptions.model import Entitlement
from domain.subscriptions.service import entitled
from domain.webhooks.jobs import WEBHOOK_PROCESS
from tests.conftest import make_settings
from tests.support.api import api_client, assert_problem
from tests.support.bakong import running_bakong
from tests.support.handlers import handler_of
from tests.support.khqr_decoder import assert_every_stored_code_verifies
from tests.support.platform import running_services, wired
from tests.support.rows import audit_events, rows
from tests.support.users import add_cast
from tests.support.webhooks import NEW_SECRET, event_body, signed

DAY = 24 * 3600
ME = "/api/v1/subscriptions/me"


@pytest.fixture
def bakong():
    with running_bakong() as server:
        yield server


@pytest.fixture
def sub_settings(database_url, redis_url, tmp_path):
    return make_settings(
        database_url,
        redis_url,
        tmp_path / "data",
        webhook_secrets={"bakong": (NEW_SECRET,)},
        bakong_account_id="healthplat@aclb",
    )


@pytest.fixture
async def services(sub_settings, clock):
    async with running_services(sub_settings, clock=clock) as built:
        yield built


@pytest.fixture
async def api(sub_settings):
    async with api_client(sub_settings) as client:
        yield client


@pytest.fixture
async def cast(services):
    return await add_cast(services)


@pytest.fixture(autouse=True)
async def every_code_checked(services):
    """After each test: every KHQR it made passes NBC's own decoder (tools/khqr)."""
    yield
    await assert_every_stored_code_verifies(services)


def jobs_of(settings, kind: str) -> list[Job]:
    found = rows(
        settings.database_url, "SELECT * FROM jobs WHERE kind = %s ORDER BY created_at", (kind,)
    )
    return [Job(**{k: v for k, v in row.items() if k in Job.__struct_fields__}) for row in found]


def subscription_of(settings, user_id) -> dict:
    [row] = rows(
        settings.database_url,
        "SELECT * FROM subscriptions WHERE user_id = %s ORDER BY created_at DESC LIMIT 1",
        (user_id,),
    )
    return row


async def pay(api, services, bakong, settings, member, body: dict) -> dict:
    """Pay as ``member`` (POST /payments, or another route that answers a payment), have Bakong
    call back, and run the callback's and the activation's jobs."""
    response = await api.post(
        body.pop("route", "/api/v1/payments"), json=body, headers=member.headers
    )
    assert response.status_code in (200, 201), response.text
    payment = response.json().get("payment") or response.json()
    paid = bakong.pay(payment["khqr"])
    callback = event_body(
        "payment.completed",
        md5=payment["md5"],
        hash=paid["hash"],
        amount=str(paid["amount"]),
        currency=paid["currency"],
        acknowledgedDateMs=paid["acknowledgedDateMs"],
    )
    hook = await api.post(
        "/api/v1/webhooks/bakong", content=callback, headers=signed(callback, NEW_SECRET)
    )
    assert hook.status_code == 202
    assert (await handler_of(WEBHOOK_PROCESS, services)(jobs_of(settings, "webhook.process")[-1]))[
        "outcome"
    ] == "completed"
    activation = await handler_of(PAYMENT_ACTIVATE, services)(
        jobs_of(settings, "payment.activate")[-1]
    )
    return {"payment": payment, "activated": activation["activated"]}


async def upkeep(services, settings) -> dict:
    return await handler_of(SUBSCRIPTION_UPKEEP, services)(
        Job(
            **{
                k: v
                for k, v in rows(settings.database_url, "SELECT * FROM jobs LIMIT 1")[0].items()
                if k in Job.__struct_fields__
            }
        )
    )


async def may_consult(services, member, used: int) -> bool:
    return await wired(services).run(entitled, member.id, Entitlement.CONSULTATIONS_PER_MONTH, used)


async def test_subscribe_renew_remind_grace_and_expire_across_a_moved_clock(
    api, services, clock, cast, bakong, sub_settings
):
    assert not await may_consult(services, cast.alice, 0)  # no subscription: nothing
    assert_problem(await api.get(ME, headers=cast.alice.headers), 404)
    plan = {"purpose": "subscription", "planId": "basic-monthly"}
    assert (await pay(api, services, bakong, sub_settings, cast.alice, dict(plan)))[
        "activated"
    ] == "started"
    first = subscription_of(sub_settings, cast.alice.id)
    assert first["status"] == "active"
    assert first["period_end"] - first["period_start"] == timedelta(days=30)
    mine = (await api.get(ME, headers=cast.alice.headers)).json()
    assert mine["planId"] == "basic-monthly" and mine["entitlements"]["consultationsPerMonth"] == 2
    assert await may_consult(services, cast.alice, 1)
    assert not await may_consult(services, cast.alice, 2)  # the plan allows 2

    clock.advance(26 * DAY)  # 4 days left: no reminder yet
    assert (await upkeep(services, sub_settings))["reminded"] == 0
    clock.advance(1 * DAY)  # 3 days left: reminded once, in the app and by e-mail
    assert (await upkeep(services, sub_settings))["reminded"] == 1
    assert (await upkeep(services, sub_settings))["reminded"] == 0
    notices = (await api.get("/api/v1/notifications", headers=cast.alice.headers)).json()["items"]
    assert "subscription.renewal" in [n["type"] for n in notices]
    templates = [
        r["template"]
        for r in rows(sub_settings.database_url, "SELECT template FROM email_messages")
    ]
    assert "subscription_renewal" in templates

    # paying again renews from the end of the period, not from now
    assert (await pay(api, services, bakong, sub_settings, cast.alice, dict(plan)))[
        "activated"
    ] == "renewed"
    renewed = subscription_of(sub_settings, cast.alice.id)
    assert renewed["id"] == first["id"]
    assert renewed["period_end"] == first["period_end"] + timedelta(days=30)

    clock.advance(33 * DAY + 60)  # past the end, unpaid: grace, still entitled
    await upkeep(services, sub_settings)
    assert subscription_of(sub_settings, cast.alice.id)["status"] == "grace"
    assert await may_consult(services, cast.alice, 0)
    clock.advance(3 * DAY)  # past the grace: expired, nothing allowed
    await upkeep(services, sub_settings)
    assert subscription_of(sub_settings, cast.alice.id)["status"] == "expired"
    assert not await may_consult(services, cast.alice, 0)
    assert [
        e["action"]
        for e in audit_events(sub_settings.database_url)
        if e["resource_type"] == "subscription"
    ] == ["subscription.start", "subscription.renew", "subscription.grace", "subscription.expired"]


async def test_cancelled_at_period_end_gets_no_reminder_and_no_grace(
    api, services, clock, cast, bakong, sub_settings
):
    await pay(
        api,
        services,
        bakong,
        sub_settings,
        cast.alice,
        {"purpose": "subscription", "planId": "basic-monthly"},
    )
    cancelled = await api.post(f"{ME}/cancel", headers=cast.alice.headers)
    assert cancelled.json()["cancelAtPeriodEnd"] is True
    clock.advance(28 * DAY)
    assert (await upkeep(services, sub_settings))["reminded"] == 0
    clock.advance(2 * DAY + 60)
    await upkeep(services, sub_settings)
    assert subscription_of(sub_settings, cast.alice.id)["status"] == "cancelled"
    assert not await may_consult(services, cast.alice, 0)


async def test_an_upgrade_is_paid_pro_rata_and_a_downgrade_waits_for_the_renewal(
    api, services, clock, cast, bakong, sub_settings
):
    await pay(
        api,
        services,
        bakong,
        sub_settings,
        cast.alice,
        {"purpose": "subscription", "planId": "basic-monthly"},
    )
    # the API runs on the real clock: the upgrade is priced at (almost) the whole period left
    change = {"route": f"{ME}/change", "planId": "premium-monthly"}
    upgraded = await pay(api, services, bakong, sub_settings, cast.alice, change)
    assert upgraded["activated"] == "upgraded"
    assert 999 <= upgraded["payment"]["amountMinor"] <= 1000  # (1500 - 500) for ~30 of 30 days
    assert subscription_of(sub_settings, cast.alice.id)["plan_code"] == "premium-monthly"
    assert await may_consult(services, cast.alice, 7)  # premium allows 8

    down = await api.post(
        f"{ME}/change", json={"planId": "basic-monthly"}, headers=cast.alice.headers
    )
    assert down.status_code == 200 and down.json()["payment"] is None
    assert down.json()["subscription"]["nextPlanId"] == "basic-monthly"
    same = await api.post(
        f"{ME}/change", json={"planId": "basic-monthly"}, headers=cast.alice.headers
    )
    assert same.status_code == 200  # choosing the downgrade again changes nothing more
    renewal = await pay(
        api,
        services,
        bakong,
        sub_settings,
        cast.alice,
        {"purpose": "subscription", "planId": "basic-monthly"},  # the reminder asks for it
    )
    assert renewal["activated"] == "renewed"
    after = subscription_of(sub_settings, cast.alice.id)
    assert (after["plan_code"], after["next_plan_code"]) == ("basic-monthly", None)
