"""The roll-ups on real PostgreSQL equal a brute-force recomputation over random dose histories,
late edits included; concurrent changes are never lost; PDC never exceeds 100 %."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, time, timedelta

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg.rows import dict_row

from domain.adapters.adherence.store import PgAdherenceStore
from domain.adherence.model import DoseOutcome, Granularity, tallies
from tests.support.platform import running_services
from tests.support.users import add_cast

FIRST_DAY = date(2026, 3, 1)  # a month with a daylight-saving change in Europe
DAYS = 40
STATUSES = ("scheduled", "taken", "skipped", "missed", "cancelled")

dose_keys = st.tuples(st.integers(0, 1), st.integers(0, DAYS - 1), st.integers(0, 2))
histories = st.dictionaries(
    dose_keys, st.tuples(st.sampled_from(STATUSES), st.booleans()), max_size=60
)
edits = st.lists(
    st.tuples(st.integers(0, 59), st.sampled_from(STATUSES), st.booleans()), max_size=15
)


def _cast_and_prescriptions(settings_) -> tuple[uuid.UUID, list[tuple[uuid.UUID, uuid.UUID]]]:
    async def make() -> tuple[uuid.UUID, list[tuple[uuid.UUID, uuid.UUID]]]:
        async with running_services(settings_) as services:
            cast = await add_cast(services)
            made = []
            async with services.pool.connection() as conn:
                for _ in range(2):
                    prescription, item = uuid.uuid4(), uuid.uuid4()
                    await conn.execute(
                        """
                        INSERT INTO prescriptions (id, patient_id, doctor_id, status, starts_on,
                                                   ends_on, created_at, updated_at)
                        VALUES (%s, %s, %s, 'active', %s, %s, now(), now())
                        """,
                        (prescription, cast.alice.id, cast.chantha.id, FIRST_DAY,
                         FIRST_DAY + timedelta(days=DAYS)),
                    )  # fmt: skip
                    await conn.execute(
                        """
                        INSERT INTO prescription_items (id, prescription_id, position, starts_on,
                            ends_on, as_needed, details_sealed, details_key_id)
                        VALUES (%s, %s, 0, %s, %s, false, '\\x00', 'unused')
                        """,
                        (item, prescription, FIRST_DAY, FIRST_DAY + timedelta(days=DAYS)),
                    )
                    made.append((prescription, item))
            return cast.alice.id, made

    return asyncio.run(make())


async def _check(database_url, patient, prescriptions, history, changes, granularity) -> None:
    async with await psycopg.AsyncConnection.connect(
        database_url, autocommit=True, row_factory=dict_row
    ) as conn:
        await conn.execute("TRUNCATE doses, adherence_days, adherence_changes CASCADE")
        doses = []
        for (which, day, slot), (status, late) in sorted(history.items()):
            prescription, item = prescriptions[which]
            local = FIRST_DAY + timedelta(days=day)
            doses.append(uuid.uuid4())
            await conn.execute(
                """
                INSERT INTO doses (id, patient_id, prescription_id, item_id, due_at, local_date,
                                   amount, status, late, updated_at)
                VALUES (%s, %s, %s, %s, %s, %s, '1', %s, %s, now())
                """,
                (doses[-1], patient, prescription, item,
                 datetime.combine(local, time(8 + 6 * slot), UTC), local, status, late),
            )  # fmt: skip
        store = PgAdherenceStore(conn)
        await roll_up_all(conn, store)
        for index, status, late in changes:  # edits after a roll-up: only their days change
            if doses:
                await conn.execute(
                    "UPDATE doses SET status = %s, late = %s WHERE id = %s",
                    (status, late, doses[index % len(doses)]),
                )
        await roll_up_all(conn, store)
        cursor = await conn.execute(
            "SELECT patient_id, prescription_id, local_date, status, late FROM doses "
            "WHERE status IN ('taken', 'skipped', 'missed')"
        )
        outcomes = [DoseOutcome(**row) for row in await cursor.fetchall()]
        last = FIRST_DAY + timedelta(days=DAYS)
        for only in (None, prescriptions[0][0]):
            stored = await store.tallies(patient, FIRST_DAY, last, granularity, only)
            assert stored == tallies(outcomes, granularity, prescription_id=only)
            for tally in stored.values():
                assert tally.pdc is not None and tally.pdc <= 1
        left = await conn.execute("SELECT count(*) AS n FROM adherence_changes")
        assert (await left.fetchone())["n"] == 0


async def roll_up_all(conn, store: PgAdherenceStore) -> None:
    """Passes of a few windows each, as the job runs them, until none is left."""
    while True:
        async with conn.transaction():
            rolled = await store.roll_up(7)
        if rolled.changes < 7:
            return


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=histories, changes=edits, granularity=st.sampled_from(list(Granularity)))
def test_roll_ups_equal_a_brute_force_recomputation(
    database_url, redis_url, tmp_path, history, changes, granularity
) -> None:
    from tests.conftest import make_settings

    key = database_url
    if key not in _MADE:
        _MADE[key] = _cast_and_prescriptions(make_settings(database_url, redis_url, tmp_path))
    patient, prescriptions = _MADE[key]
    asyncio.run(_check(database_url, patient, prescriptions, history, changes, granularity))


_MADE: dict[str, tuple[uuid.UUID, list[tuple[uuid.UUID, uuid.UUID]]]] = {}


async def test_a_change_made_while_a_roll_up_runs_is_rolled_up_next_time(settings) -> None:
    patient, [(prescription, item), _] = await asyncio.to_thread(_cast_and_prescriptions, settings)
    async with (
        await psycopg.AsyncConnection.connect(
            settings.database_url, autocommit=True, row_factory=dict_row
        ) as rolling,
        await psycopg.AsyncConnection.connect(
            settings.database_url, autocommit=True, row_factory=dict_row
        ) as editing,
    ):
        dose = uuid.uuid4()
        await editing.execute(
            """
            INSERT INTO doses (id, patient_id, prescription_id, item_id, due_at, local_date,
                               amount, status, late, updated_at)
            VALUES (%s, %s, %s, %s, %s, %s, '1', 'missed', false, now())
            """,
            (dose, patient, prescription, item, datetime(2026, 3, 2, 8, tzinfo=UTC),
             date(2026, 3, 2)),
        )  # fmt: skip
        store = PgAdherenceStore(rolling)
        async with rolling.transaction():
            await store.roll_up(100)  # takes the note; not committed yet
            async with editing.transaction():  # the patient says it was taken after all
                await editing.execute("UPDATE doses SET status = 'taken' WHERE id = %s", (dose,))
        await roll_up_all(rolling, store)
        stored = await store.tallies(
            patient, date(2026, 3, 2), date(2026, 3, 2), Granularity.DAY, None
        )
        assert stored[date(2026, 3, 2)].taken == 1
