"""The unit tests' fake consultations store against PostgreSQL's: one scenario of adds, guarded
moves, reschedules, idempotency keys, links, reminders, pages and the archive's move, run on
both, must see the same answers (the fake checks what the real store checks)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from domain.consultations.model import (
    Consultation,
    ConsultationFilter,
    ConsultationStatus,
    Period,
    new_room,
)
from domain.errors import Conflict
from tests.fakes.consultations import BookingWorld
from tests.support.prescriptions import add_prescription
from tests.support.users import add_cast

S = ConsultationStatus


@pytest.fixture
async def cast(services):
    return await add_cast(services)


async def scenario(uow_factory, patient, other, doctor, prescriptions, now) -> list:
    """What each step answers, with consultations named by label (ids differ per run)."""
    seen: list = []
    made: dict[str, Consultation] = {}
    start = (now + timedelta(days=2)).replace(second=0, microsecond=0)

    def consultation(label, status, at, who=patient, minutes=30, hold_for=None) -> Consultation:
        c = Consultation(
            id=uuid.uuid4(),
            patient_id=who,
            doctor_id=doctor,
            starts_at=at,
            ends_at=at + timedelta(minutes=minutes),
            blocked_until=at + timedelta(minutes=minutes + 10),
            status=status,
            room=new_room(),
            created_at=now,
            updated_at=now,
            hold_expires_at=now + hold_for if hold_for is not None else None,
        )
        made[label] = c
        return c

    def named(c: Consultation | None) -> object:
        if c is None:
            return None
        label = next(k for k, v in made.items() if v.id == c.id)
        return (label, c.status.value, c.starts_at - start, c.hold_expires_at is not None)

    async def step(name, action) -> None:
        try:
            async with uow_factory() as uow:
                seen.append((name, await action(uow.consultations)))
        except Conflict as refused:
            seen.append((name, "conflict", refused.code))

    minute = timedelta(minutes=1)
    await step("a", lambda r: r.add(consultation("a", S.CONFIRMED, start), None, b""))
    await step(
        "b overlaps a", lambda r: r.add(consultation("b", S.HELD, start + 39 * minute), None, b"")
    )
    await step(
        "c after a's buffer",
        lambda r: r.add(
            consultation("c", S.HELD, start + 40 * minute, hold_for=-minute), "k-1", b"print"
        ),
    )
    await step(
        "d cancelled at a's time", lambda r: r.add(consultation("d", S.CANCELLED, start), None, b"")
    )
    await step(
        "e released at a's time", lambda r: r.add(consultation("e", S.RELEASED, start), None, b"")
    )
    await step(
        "same key", lambda r: r.add(consultation("f", S.CANCELLED, start, minutes=20), "k-1", b"x")
    )
    await step(
        "key of another",
        lambda r: r.add(consultation("g", S.CANCELLED, start, who=other), "k-1", b"other"),
    )

    async def by_key(r):
        found = await r.by_key(patient, "k-1")
        return (named(found[0]), found[1]) if found else None

    await step("by key", by_key)
    await step("lapsed holds", lambda r: _labels(r.to_release(now, 10), made))
    await step(
        "e rebooked onto a",
        lambda r: _named(r.move(made["e"].id, S.RELEASED, S.CONFIRMED, now), named),
    )
    await step(
        "a moved from the wrong state",
        lambda r: _named(r.move(made["a"].id, S.HELD, S.CANCELLED, now), named),
    )
    await step(
        "a cancelled", lambda r: _named(r.move(made["a"].id, S.CONFIRMED, S.CANCELLED, now), named)
    )
    await step(
        "e rebooked", lambda r: _named(r.move(made["e"].id, S.RELEASED, S.CONFIRMED, now), named)
    )
    await step("c released", lambda r: _named(r.move(made["c"].id, S.HELD, S.RELEASED, now), named))

    def reschedule(label, minutes_on, stale=False):
        async def action(r):
            current = await r.get(made[label].id)
            if stale:  # as read before another change moved it
                current = msgspec.structs.replace(current, starts_at=current.starts_at - minute)
            at = start + minutes_on * minute
            return named(await r.reschedule(current, at, at + 30 * minute, at + 40 * minute, now))

        return action

    await step("e to 40", reschedule("e", 40))
    await step("e stale", reschedule("e", 120, stale=True))
    await step(
        "h at 120", lambda r: r.add(consultation("h", S.CONFIRMED, start + 120 * minute), None, b"")
    )
    await step("e onto h", reschedule("e", 130))
    first, second = prescriptions
    await step("link", lambda r: r.link_prescription(made["e"].id, first, now))
    await step("link again", lambda r: r.link_prescription(made["e"].id, first, now))
    await step("link elsewhere", lambda r: r.link_prescription(made["h"].id, first, now))
    await step("link second", lambda r: r.link_prescription(made["e"].id, second, now))
    await step("linked", lambda r: _count(r.prescriptions(made["e"].id)))
    soon = now + timedelta(days=2) - timedelta(hours=23)
    await step("reminders due", lambda r: _pairs(r.to_remind(soon, 10), named))
    await step("reminded", lambda r: r.reminded(made["e"].id, 1, start + 40 * minute))

    # the past: finished long ago, and what a page shows before and after the move
    for n in range(5):
        await step(
            f"old {n}",
            lambda r, n=n: r.add(
                consultation(f"old{n}", S.COMPLETED, start - timedelta(days=40 + n)), None, b""
            ),
        )
    await step(
        "recent",
        lambda r: r.add(consultation("recent", S.NO_SHOW, start - timedelta(days=3)), None, b""),
    )

    async def pages(r):
        out, cursor = [], None
        while True:
            page = await r.page(
                ConsultationFilter(party_id=patient, period=Period.PAST, limit=2, cursor=cursor),
                now,
            )
            out.append([named(c) for c in page.items])
            cursor = page.next_cursor
            if cursor is None:
                return out

    await step("past pages", pages)
    await step("archive 3", lambda r: r.archive(now - timedelta(days=30), now, 3))
    await step("past pages after", pages)
    await step("archive rest", lambda r: r.archive(now - timedelta(days=30), now, 100))
    await step("archive again", lambda r: r.archive(now - timedelta(days=30), now, 100))
    await step("past pages at last", pages)
    await step("old by id", lambda r: _named(r.get(made["old0"].id, lock=True), named))
    await step(
        "old moved", lambda r: _named(r.move(made["old0"].id, S.COMPLETED, S.CONFIRMED, now), named)
    )
    return seen


async def _named(awaitable, named):
    return named(await awaitable)


async def _labels(awaitable, made):
    ids = list(await awaitable)
    return sorted(next(k for k, v in made.items() if v.id == i) for i in ids)


async def _count(awaitable):
    return len(await awaitable)


async def _pairs(awaitable, named):
    return [(named(c), due) for c, due in await awaitable]


async def test_the_fake_store_answers_as_postgresql_does(services, cast) -> None:
    alice, borey, chantha = cast.alice.id, cast.borey.id, cast.chantha.id
    prescriptions = [await add_prescription(services, alice, chantha) for _ in range(2)]
    now = datetime.now(UTC)
    real = await scenario(services.uow, alice, borey, chantha, prescriptions, now)
    world = BookingWorld()
    fake = await scenario(world.uow, alice, borey, chantha, prescriptions, now)

    assert fake == real
    assert ("b overlaps a", "conflict", "time_taken") in real
    assert ("same key", "conflict", "idempotency_key_race") in real
    assert ("e onto h", "conflict", "time_taken") in real
    assert ("e rebooked onto a", None) in real and ("e stale", None) in real
    assert ("archive 3", 3) in real and ("archive again", 0) in real
    past = dict(step[:2] for step in real)
    assert past["past pages"] == past["past pages after"] == past["past pages at last"]
    assert len(past["past pages"]) == 3  # six finished, two a page
