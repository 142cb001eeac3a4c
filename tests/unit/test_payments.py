"""Payments' use cases through in-memory fakes: the price comes from us, a transaction completes
a payment once (whichever path reports it), mismatches go to admins, the poller backs off."""

from __future__ import annotations

import uuid
from datetime import timedelta

import msgspec
import pytest

from domain.errors import NotFound, ValidationFailed
from domain.payments import ports
from domain.payments.confirm import record_paid
from domain.payments.create import PaymentRequest, create_payment
from domain.payments.model import Outcome, PaidTransaction, PaymentStatus, Purpose, Review
from domain.payments.money import Currency
from domain.payments.polling import poll_pending
from domain.settings import Settings
from domain.webhooks.ports import DeliveryRepository
from tests.fakes.audit import FakeAuditLog
from tests.fakes.emails import FakeAddresses, FakeEmailRepository, FakeRenderer, emails_sent
from tests.fakes.jobs import FakeJobRepository
from tests.fakes.notifications import FakeNoticeRepository
from tests.fakes.payments import (
    FakeBakong,
    FakePayers,
    FakePaymentRepository,
    FakePriceList,
    FakeQr,
)
from tests.fakes.webhooks import FakeDeliveryRepository
from tests.fakes.world import World
from tests.unit.test_account_fakes import methods

SETTINGS = Settings(
    database_url="postgresql://unused",
    redis_url="redis://unused",
    jwt_secret="x" * 40,
    data_dir="/nonexistent",
    phi_keys={"k1": bytes(32)},
    phi_active_key_id="k1",
    bakong_account_id="healthplat@aclb",
)


class Payments(World):
    def __init__(self) -> None:
        self.bakong = FakeBakong()
        super().__init__(
            settings=SETTINGS,
            network=self.bakong,
            renderer=FakeRenderer(),
            addresses=FakeAddresses(),
        )
        self.uow.repositories.update(
            payments=FakePaymentRepository,
            prices=FakePriceList,
            payers=FakePayers,
            notices=FakeNoticeRepository,
            emails=FakeEmailRepository,
            audit=FakeAuditLog,
            jobs=FakeJobRepository,
        )

    def table(self, name: str) -> dict:
        return self.uow.database.table(name)

    def paid_as_asked(self, payment, **changes) -> PaidTransaction:
        fields = dict(
            md5=payment.md5,
            hash=uuid.uuid4().hex,
            amount_minor=payment.amount_minor,
            currency=payment.currency,
            paid_at=self.clock.now(),
        )
        return PaidTransaction(**{**fields, **changes})

    async def report(self, paid: PaidTransaction, source: str = "callback") -> Outcome:
        return await self.cases.run(record_paid, paid, source)


@pytest.fixture
def world() -> Payments:
    return Payments()


async def pay_for_plan(world: Payments, who, currency: Currency = Currency.USD):
    request = PaymentRequest(
        purpose=Purpose.SUBSCRIPTION, plan_id="basic-monthly", currency=currency
    )
    return await world.run(create_payment, who, "payment.create", request)


async def test_the_price_comes_from_the_list_or_the_doctors_fee(world) -> None:
    alice = world.patient()
    assert (await pay_for_plan(world, alice)).amount_minor == 500
    assert (await pay_for_plan(world, alice, Currency.KHR)).amount_minor == 20000
    doctor = uuid.uuid4()
    world.table("fees")[doctor] = (2500, Currency.USD)
    consult = PaymentRequest(purpose=Purpose.CONSULTATION, doctor_id=doctor)
    assert (await world.run(create_payment, alice, "payment.create", consult)).amount_minor == 2500
    with pytest.raises(NotFound):
        gold = PaymentRequest(purpose=Purpose.SUBSCRIPTION, plan_id="gold")
        await world.run(create_payment, alice, "payment.create", gold)
    with pytest.raises(ValidationFailed):
        mixed = PaymentRequest(
            purpose=Purpose.SUBSCRIPTION, plan_id="basic-monthly", doctor_id=doctor
        )
        await world.run(create_payment, alice, "payment.create", mixed)


async def test_a_transaction_completes_its_payment_once_whoever_reports_it(world) -> None:
    alice = world.patient()
    payment = await pay_for_plan(world, alice)
    world.table("contacts")[payment.user_id] = ("Sokha", "sokha@example.org")
    paid = world.paid_as_asked(payment)
    outcomes = [
        await world.report(paid),
        await world.report(paid, "poll"),
        await world.report(paid),
    ]
    assert outcomes == [Outcome.COMPLETED, Outcome.ALREADY, Outcome.ALREADY]
    stored = world.table("payments")[payment.id]
    assert (stored.status, stored.transaction_hash) == (PaymentStatus.COMPLETED, paid.hash)
    kinds = [job.kind for job in world.table("jobs").values()]
    assert kinds.count("payment.activate") == 1 and kinds.count("email.send") == 1
    assert [e.template for e in emails_sent(world.uow.database)] == ["payment_receipt"]
    assert [n.kind.value for n in world.notices_of(alice)] == ["payment.receipt"]
    assert await world.report(world.paid_as_asked(payment, md5="f" * 32)) is Outcome.UNKNOWN


async def test_a_mismatch_fails_the_payment_and_tells_each_admin(world) -> None:
    alice = world.patient()
    admins = [uuid.uuid4(), uuid.uuid4()]
    for admin in admins:
        world.table("admins")[admin] = True
    payment = await pay_for_plan(world, alice)
    assert await world.report(world.paid_as_asked(payment, amount_minor=499)) is Outcome.FLAGGED
    stored = world.table("payments")[payment.id]
    assert (stored.status, stored.review) == (PaymentStatus.FAILED, Review.AMOUNT_MISMATCH)
    told = [n for n in world.table("notices").values() if n.kind.value == "payment.review"]
    assert sorted(n.user_id for n in told) == sorted(admins)
    assert not any(job.kind == "payment.activate" for job in world.table("jobs").values())


async def test_the_poller_completes_what_is_paid_backs_off_the_rest_and_expires_the_lapsed(world):
    alice = world.patient()
    made = [await pay_for_plan(world, alice) for _ in range(3)]
    world.clock.advance(5)
    world.bakong.paid[made[0].md5] = world.paid_as_asked(made[0])
    counts = await world.cases.run(poll_pending)
    assert (counts["asked"], counts["calls"], counts["completed"]) == (3, 1, 1)
    waiting = world.table("payments")[made[1].id]
    assert waiting.checks == 1 and waiting.next_check_at == world.clock.now() + timedelta(
        seconds=10
    )
    assert (await world.cases.run(poll_pending))["asked"] == 0  # nothing due yet
    world.clock.advance(15 * 60)
    assert (await world.cases.run(poll_pending))["expired"] == 2
    assert world.table("payments")[made[2].id].status is PaymentStatus.EXPIRED
    late = world.paid_as_asked(made[2])
    assert await world.report(late) is Outcome.FLAGGED  # paid after its code expired
    in_time = msgspec.structs.replace(
        world.paid_as_asked(made[1]), paid_at=made[1].expires_at - timedelta(seconds=1)
    )
    assert await world.report(in_time) is Outcome.COMPLETED  # expired -> completed: paid in time


PORTS = [
    (ports.PaymentRepository, FakePaymentRepository),
    (ports.PriceList, FakePriceList),
    (ports.Payers, FakePayers),
    (ports.PaymentNetwork, FakeBakong),
    (ports.QrRenderer, FakeQr),
    (DeliveryRepository, FakeDeliveryRepository),
]


@pytest.mark.parametrize(("port", "fake"), PORTS, ids=lambda x: getattr(x, "__name__", ""))
def test_each_fake_has_every_method_of_its_port(port, fake) -> None:
    wanted, held = methods(port), methods(fake)
    assert wanted
    for name, signature in wanted.items():
        assert list(held[name].parameters) == list(signature.parameters), name
