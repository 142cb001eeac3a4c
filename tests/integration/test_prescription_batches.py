"""Batch prescribing: one command, a job that prescribes to each patient in turn and shows
each outcome (created, or refused and why) in its result while it runs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from domain.prescriptions.jobs import PRESCRIPTION_BATCH
from tests.support.api import api_client, assert_problem
from tests.support.handlers import handler_of
from tests.support.medicines import seeded_medicine
from tests.support.records import job_id_of, run_job
from tests.support.rows import rows
from tests.support.users import add_cast, connect

BATCH = "/api/v1/prescriptions/batch"


@pytest.fixture
async def api(settings):
    async with api_client(settings) as client:
        yield client


@pytest.fixture
async def cast(services):
    everyone = await add_cast(services)
    await connect(services, everyone.alice.id, everyone.chantha.id)
    return everyone


async def items(services) -> list[dict]:
    return [
        {
            "medicineId": await seeded_medicine(services, "amlodipine"),
            "strength": "5 mg",
            "doseAmount": "1",
            "doseForm": "tablet",
            "frequency": "OD",
            "startDate": datetime.now(UTC).date().isoformat(),
            "durationDays": 30,
        }
    ]


class ProgressSpy:
    """The live channel, reading the job's result each time a patient is told: what a client
    polling ``GET /jobs/{id}`` would see at that moment."""

    def __init__(self, services, job_id: uuid.UUID) -> None:
        self.services, self.job_id, self.seen = services, job_id, []

    async def announce(self, user_id: uuid.UUID, seq: int) -> None:
        job = await self.services.store.get(self.job_id)
        self.seen.append((job.status.value, job.result))


async def test_each_patient_gets_an_outcome_and_the_job_shows_them_as_it_goes(
    api, cast, services, settings
) -> None:
    patients = [str(cast.alice.id), str(cast.borey.id), str(uuid.uuid4())]
    response = await api.post(
        BATCH,
        json={"patientIds": patients, "items": await items(services), "activate": True},
        headers=cast.chantha.headers,
    )
    job_id = job_id_of(response)
    assert response.headers["location"].endswith(f"/jobs/{job_id}")
    [job_row] = rows(settings.database_url, "SELECT payload FROM jobs WHERE id = %s", (job_id,))
    assert job_row["payload"] == {"batchId": job_row["payload"]["batchId"]}  # ids only

    spy = ProgressSpy(services, job_id)

    async def handler(job, services):
        return await handler_of(PRESCRIPTION_BATCH, services, live=spy)(job)

    done = await run_job(services, job_id, handler)
    assert done.status.value == "succeeded"
    result = done.result
    assert (result["total"], result["done"], result["created"], result["refused"]) == (3, 3, 1, 2)
    alice, borey, nobody = result["patients"]
    assert alice["outcome"] == "created" and alice["prescriptionId"]
    assert borey == {"patientId": patients[1], "outcome": "refused", "reason": "not_connected"}
    assert nobody["reason"] == "not_connected"
    # while it ran: Alice told of her prescription with her outcome already on the job
    [(status, progress)] = spy.seen
    assert status == "running" and progress["done"] == 1 and progress["created"] == 1

    [prescription] = rows(settings.database_url, "SELECT * FROM prescriptions")
    assert str(prescription["id"]) == alice["prescriptionId"]
    assert prescription["status"] == "active" and str(prescription["patient_id"]) == patients[0]
    assert rows(settings.database_url, "SELECT count(*) AS n FROM doses")[0]["n"] > 0

    # a retry (or a second delivery) prescribes nobody twice
    again = await run_job(services, job_id, handler)
    assert again is None or again.status.value == "succeeded"
    assert rows(settings.database_url, "SELECT count(*) AS n FROM prescriptions")[0]["n"] == 1


async def test_a_bad_item_is_refused_before_anything_is_queued(
    api, cast, services, settings
) -> None:
    bad = await items(services)
    bad[0]["frequency"] = "now and then"
    response = await api.post(
        BATCH,
        json={"patientIds": [str(cast.alice.id)], "items": bad},
        headers=cast.chantha.headers,
    )
    body = assert_problem(response, 422)
    assert body["errors"][0]["field"] == "items[0].frequency"
    assert rows(settings.database_url, "SELECT count(*) AS n FROM jobs")[0]["n"] == 0


async def test_only_doctors_send_a_batch_and_the_items_are_sealed(
    api, cast, services, settings
) -> None:
    body = {"patientIds": [str(cast.alice.id)], "items": await items(services)}
    assert_problem(await api.post(BATCH, json=body, headers=cast.alice.headers), 403)
    assert_problem(await api.post(BATCH, json=body, headers=cast.eang.headers), 403)
    job_id_of(await api.post(BATCH, json=body, headers=cast.chantha.headers))
    [row] = rows(settings.database_url, "SELECT t::text AS text FROM prescription_batches t")
    assert body["items"][0]["medicineId"] not in row["text"] and "5 mg" not in row["text"]
