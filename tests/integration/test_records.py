"""Medical records end to end: upload through the API, the record job against a real IPFS node
(js-ipfs), anchoring through stellar-sdk against the local Horizon, reading and verifying."""

from __future__ import annotations

import hashlib

import msgspec
import pytest
from stellar_sdk import Keypair

from domain.adapters.files.unixfs import cid_of_bytes
from domain.jobs.model import JobStatus
from domain.records.model import MAX_RECORD_BYTES
from tests.support.api import assert_problem
from tests.support.handlers import anchor_batch
from tests.support.platform import running_services
from tests.support.records import (
    blob,
    free_port_url,
    job_id_of,
    run_anchoring,
    run_job,
    store_record,
    upload_record,
)
from tests.support.rows import audit_events, rows
from workers import proof_cli


@pytest.fixture
def ledger_key() -> Keypair:
    return Keypair.random()


@pytest.fixture
def platform_settings(settings, ipfs_api_url, horizon, ledger_key):
    horizon.fund(ledger_key.public_key)
    return msgspec.structs.replace(
        settings,
        ipfs_api_url=ipfs_api_url,
        stellar_secret_key=ledger_key.secret,
        stellar_horizon_url=horizon.url,
        stellar_network_passphrase=horizon.network_passphrase,
    )


async def stored(api, platform, member, patient_id, data: bytes, **fields: str):
    job_id = job_id_of(await upload_record(api, member.headers, patient_id, data, **fields))
    job = await store_record(platform, job_id)
    assert job.status is JobStatus.SUCCEEDED, job.error
    return job


# --- upload and the record job ----------------------------------------------------------------


@pytest.mark.parametrize(
    "size",
    [2 * 1024 * 1024, 2_500_000],  # 8 chunks (two full reads, then an empty one); 10 (4, 4, 2)
    ids=["2-MiB", "2.5-MB"],
)
async def test_an_upload_over_a_mebibyte_streams_from_staging_to_ipfs_in_order(
    api, platform, cast, settings, size
):
    data = blob(size, seed=11)  # past READ_AHEAD_BYTES: streamed, not held

    job = await stored(api, platform, cast.alice, cast.alice.id, data)

    assert job.result["cid"] == cid_of_bytes(data)
    record_id = job.result["recordId"]
    content = await api.get(f"/api/v1/records/{record_id}/content", headers=cast.alice.headers)
    assert content.content == data
    assert rows(settings.database_url, "SELECT count(*) AS n FROM upload_chunks")[0]["n"] == 0


async def test_upload_stores_the_bytes_on_ipfs_under_their_own_cid(api, platform, cast, settings):
    data = blob(700_000, seed=1)  # three chunks: a dag-pb root over raw leaves

    job = await stored(api, platform, cast.alice, cast.alice.id, data)

    record_id = job.result["recordId"]
    assert job.result == {
        "recordId": record_id,
        "cid": cid_of_bytes(data),
        "anchorStatus": "pending",
        "stellarTxHash": None,
    }
    content = await api.get(f"/api/v1/records/{record_id}/content", headers=cast.alice.headers)
    assert content.status_code == 200
    assert content.content == data
    assert rows(settings.database_url, "SELECT count(*) AS n FROM upload_chunks")[0]["n"] == 0
    assert rows(settings.database_url, "SELECT count(*) AS n FROM uploads")[0]["n"] == 0


async def test_a_connected_doctor_uploads_for_their_patient(api, platform, cast):
    job = await stored(api, platform, cast.chantha, cast.alice.id, blob(10, seed=2))

    read = await api.get(f"/api/v1/records/{job.result['recordId']}", headers=cast.alice.headers)
    assert read.status_code == 200
    body = read.json()
    assert body["uploadedBy"] == str(cast.chantha.id)
    assert body["patientId"] == str(cast.alice.id)
    assert body["recordType"] == "LAB_RESULT"
    assert body["description"] == "Lipid panel, fasting"


async def test_the_description_is_sealed_at_rest(api, platform, cast, settings):
    job = await stored(api, platform, cast.alice, cast.alice.id, blob(10, seed=3))

    [row] = rows(
        settings.database_url,
        "SELECT description_sealed, description_key_id FROM records WHERE id = %s",
        (job.result["recordId"],),
    )
    assert b"Lipid" not in bytes(row["description_sealed"])
    assert row["description_key_id"] == settings.phi_active_key_id


async def test_an_idempotent_replay_finds_the_same_job_and_keeps_one_upload(api, cast, settings):
    data = blob(1000, seed=4)
    headers = {**cast.alice.headers, "Idempotency-Key": "upload-1"}

    first = await upload_record(api, headers, cast.alice.id, data)
    again = await upload_record(api, headers, cast.alice.id, data)
    other = await upload_record(api, headers, cast.alice.id, blob(1000, seed=5))

    assert job_id_of(first) == job_id_of(again)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert_problem(other, 409)
    assert rows(settings.database_url, "SELECT count(*) AS n FROM uploads")[0]["n"] == 1


async def test_the_same_bytes_twice_are_two_records_with_one_cid(api, platform, cast):
    data = blob(5000, seed=6)
    first = await stored(api, platform, cast.alice, cast.alice.id, data)
    second = await stored(api, platform, cast.alice, cast.alice.id, data)

    assert first.result["recordId"] != second.result["recordId"]
    assert first.result["cid"] == second.result["cid"]


# --- bad input: 4xx, nothing kept --------------------------------------------------------------


async def test_a_file_over_10_mb_is_413_and_nothing_is_kept(api, cast, settings):
    response = await upload_record(
        api, cast.alice.headers, cast.alice.id, blob(MAX_RECORD_BYTES + 1)
    )

    assert_problem(response, 413)
    assert rows(settings.database_url, "SELECT count(*) AS n FROM jobs")[0]["n"] == 0
    assert rows(settings.database_url, "SELECT count(*) AS n FROM upload_chunks")[0]["n"] == 0


async def test_a_file_of_exactly_10_mb_is_accepted(api, cast):
    response = await upload_record(api, cast.alice.headers, cast.alice.id, blob(MAX_RECORD_BYTES))

    assert response.status_code == 202


async def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_read(api, cast):
    response = await api.post(
        "/api/v1/records",
        headers={
            **cast.alice.headers,
            "Content-Type": "multipart/form-data; boundary=x",
            "Content-Length": str(MAX_RECORD_BYTES * 2),
        },
        content=b"--x--\r\n",
    )

    assert response.status_code == 413


async def test_no_file_is_400(api, cast, settings):
    response = await api.post(
        "/api/v1/records",
        headers=cast.alice.headers,
        files={"patientId": (None, str(cast.alice.id)), "recordType": (None, "OTHER")},
    )

    problem = assert_problem(response, 400)
    assert "file" in problem["detail"]
    assert rows(settings.database_url, "SELECT count(*) AS n FROM jobs")[0]["n"] == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [("recordType", "XRAY"), ("patientId", "not-a-uuid"), ("description", "x" * 2001)],
)
async def test_invalid_fields_are_422_naming_the_field(api, cast, settings, field, value):
    response = await upload_record(
        api, cast.alice.headers, cast.alice.id, blob(10), **{field: value}
    )

    problem = assert_problem(response, 422)
    assert problem["errors"][0]["field"] == field
    assert rows(settings.database_url, "SELECT count(*) AS n FROM upload_chunks")[0]["n"] == 0


async def test_a_body_that_is_not_multipart_is_415(api, cast):
    response = await api.post("/api/v1/records", headers=cast.alice.headers, json={"file": "x"})

    assert_problem(response, 415)


async def test_a_truncated_multipart_body_is_400(api, cast):
    body = b'--b\r\nContent-Disposition: form-data; name="file"; filename="x"\r\n\r\n' + b"x" * 100
    response = await api.post(
        "/api/v1/records",
        headers={**cast.alice.headers, "Content-Type": "multipart/form-data; boundary=b"},
        content=body,
    )

    assert_problem(response, 400)


# --- IPFS down ---------------------------------------------------------------------------------


async def attempts_with_ipfs_down(platform_settings, clock, job_id, attempts: int):
    """Run the record job ``attempts`` times against a node that is down, moving the clock
    past each retry delay; returns the job after each attempt."""
    down = msgspec.structs.replace(platform_settings, ipfs_api_url=free_port_url())
    seen = []
    async with running_services(down, clock=clock) as broken:
        for _ in range(attempts):
            clock.advance(3600)  # past the retry delay (and past the API's own clock)
            seen.append(await store_record(broken, job_id))
    return seen


async def test_ipfs_down_is_retried_then_fails_with_no_record_row(
    api, platform_settings, cast, settings, clock
):
    job_id = job_id_of(await upload_record(api, cast.alice.headers, cast.alice.id, blob(100)))

    seen = await attempts_with_ipfs_down(platform_settings, clock, job_id, 6)

    statuses = [job.status for job in seen]
    job = seen[-1]

    assert statuses == [JobStatus.RETRYING] * 5 + [JobStatus.FAILED]
    assert job.attempts == 6
    assert job.error.code == "content_store_unavailable"
    assert rows(settings.database_url, "SELECT count(*) AS n FROM records")[0]["n"] == 0
    # the bytes stay staged: an operator's retry (POST /jobs/{id}/retry) can still finish it
    assert rows(settings.database_url, "SELECT count(*) AS n FROM uploads")[0]["n"] == 1


async def test_an_operator_retry_after_ipfs_returns_finishes_the_record(
    api, platform, platform_settings, cast, clock
):
    job_id = job_id_of(await upload_record(api, cast.alice.headers, cast.alice.id, blob(100)))
    seen = await attempts_with_ipfs_down(platform_settings, clock, job_id, 6)
    assert seen[-1].status is JobStatus.FAILED

    retried = await api.post(f"/api/v1/jobs/{job_id}/retry", headers=cast.eang.headers)
    assert retried.status_code == 202, retried.text
    job = await store_record(platform, job_id)

    assert job.status is JobStatus.SUCCEEDED
    assert job.result["cid"] == cid_of_bytes(blob(100))


# --- anchoring and verification ----------------------------------------------------------------


async def test_anchoring_lands_one_transaction_and_every_record_verifies(
    api, platform, cast, horizon, ledger_key
):
    jobs = [
        await stored(api, platform, cast.alice, cast.alice.id, blob(50, seed=s)) for s in range(3)
    ]

    anchor = await run_anchoring(platform)

    assert anchor.status is JobStatus.SUCCEEDED, anchor.error
    assert anchor.result["batchesAnchored"] == 1
    [landed] = horizon.landed(ledger_key.public_key)
    for job in jobs:
        record_id = job.result["recordId"]
        polled = await api.get(f"/api/v1/jobs/{job.id}", headers=cast.alice.headers)
        assert polled.json()["result"]["anchorStatus"] == "anchored"
        assert polled.json()["result"]["stellarTxHash"] == landed["hash"]
        read = (await api.get(f"/api/v1/records/{record_id}", headers=cast.alice.headers)).json()
        assert read["anchorStatus"] == "anchored"
        assert read["anchor"]["ledger"] == landed["ledger"]
        verified = await api.get(f"/api/v1/records/{record_id}/verify", headers=cast.alice.headers)
        assert verified.json() == {
            "verified": True,
            "content": {"status": "ok", "detail": "the content hashes to the record's CID"},
            "proof": {"status": "ok", "detail": "the proof leads from the CID to the batch's root"},
            "ledger": {"status": "ok", "detail": f"on the ledger in ledger {landed['ledger']}"},
        }


@pytest.mark.parametrize(
    ("other_size", "detail"),
    [
        (800, "the content's size is not the size recorded at upload"),
        (500, "the content's SHA-256 is not the one recorded at upload"),
    ],
    ids=["another-size", "same-size"],
)
async def test_a_row_whose_cid_was_swapped_for_another_pinned_cid_fails_the_content_check(
    api, platform, cast, settings, other_size, detail
):
    """The reviewer's case: the new bytes do hash to the new CID, but they are not the bytes
    this record's size and SHA-256 were recorded for."""
    job = await stored(api, platform, cast.alice, cast.alice.id, blob(500, seed=20))
    other = await stored(api, platform, cast.alice, cast.alice.id, blob(other_size, seed=21))
    await run_anchoring(platform)
    record_id, other_cid = job.result["recordId"], other.result["cid"]
    rows(settings.database_url, "UPDATE records SET cid = %s WHERE id = %s RETURNING id",
         (other_cid, record_id))  # fmt: skip

    verified = await api.get(f"/api/v1/records/{record_id}/verify", headers=cast.alice.headers)

    assert verified.status_code == 200, verified.text
    body = verified.json()
    assert body["verified"] is False
    assert body["content"] == {"status": "failed", "detail": detail}
    assert body["proof"]["status"] == "failed"
    assert body["ledger"]["status"] == "ok"
    for leaked in (other_cid, job.result["cid"], hashlib.sha256(blob(500, seed=20)).hexdigest()):
        assert leaked not in verified.text


async def test_a_changed_sha256_alone_fails_the_content_check(api, platform, cast, settings):
    job = await stored(api, platform, cast.alice, cast.alice.id, blob(300, seed=22))
    record_id = job.result["recordId"]
    rows(settings.database_url, "UPDATE records SET sha256 = %s WHERE id = %s RETURNING id",
         (hashlib.sha256(b"something else").digest(), record_id))  # fmt: skip

    verified = await api.get(f"/api/v1/records/{record_id}/verify", headers=cast.alice.headers)

    assert verified.json()["content"] == {
        "status": "failed",
        "detail": "the content's SHA-256 is not the one recorded at upload",
    }


async def test_an_exported_proof_verifies_offline(api, platform, cast, tmp_path, capsys):
    data = blob(300, seed=9)
    job = await stored(api, platform, cast.alice, cast.alice.id, data)
    await stored(api, platform, cast.alice, cast.alice.id, blob(300, seed=10))
    await run_anchoring(platform)

    exported = await api.get(
        f"/api/v1/records/{job.result['recordId']}/proof", headers=cast.alice.headers
    )
    assert exported.status_code == 200
    proof_path = tmp_path / "proof.json"
    proof_path.write_bytes(exported.content)
    content_path = tmp_path / "record.bin"
    content_path.write_bytes(data)

    assert proof_cli.main([str(proof_path), "--content", str(content_path)]) == 0
    content_path.write_bytes(data + b"x")
    assert proof_cli.main([str(proof_path), "--content", str(content_path)]) != 0


async def test_before_anchoring_the_proof_is_a_409_and_verify_says_pending(api, platform, cast):
    job = await stored(api, platform, cast.alice, cast.alice.id, blob(10, seed=11))
    record_id = job.result["recordId"]

    exported = await api.get(f"/api/v1/records/{record_id}/proof", headers=cast.alice.headers)
    verified = await api.get(f"/api/v1/records/{record_id}/verify", headers=cast.alice.headers)

    assert_problem(exported, 409)
    body = verified.json()
    assert body["verified"] is False
    assert body["content"]["status"] == "ok"
    assert body["proof"]["status"] == "pending"
    assert body["ledger"]["status"] == "pending"


async def test_horizon_down_retries_the_anchoring_job_then_it_lands(
    api, platform, platform_settings, cast, horizon, ledger_key, clock
):
    await stored(api, platform, cast.alice, cast.alice.id, blob(10, seed=12))
    horizon.down()

    first = await run_anchoring(platform)

    assert first.status is JobStatus.RETRYING
    assert first.error.code == "stellar_unreachable"
    horizon.up()
    clock.advance(60)  # past the retry delay
    async with running_services(platform_settings, clock=clock) as later:
        again = await run_job(later, first.id, anchor_batch)
    assert again.status is JobStatus.SUCCEEDED, again.error
    assert len(horizon.landed(ledger_key.public_key)) == 1


async def test_a_stale_sequence_is_recovered(api, platform, cast, horizon, ledger_key):
    await stored(api, platform, cast.alice, cast.alice.id, blob(10, seed=13))
    await run_anchoring(platform)
    await stored(api, platform, cast.alice, cast.alice.id, blob(10, seed=14))
    horizon.bump_sequence(ledger_key.public_key, by=3)  # another client used the account

    anchor = await run_anchoring(platform)

    assert anchor.status is JobStatus.SUCCEEDED, anchor.error
    assert len(horizon.landed(ledger_key.public_key)) == 2


async def test_without_horizon_batches_are_signed_and_kept_then_submitted(
    api, platform_settings, cast, horizon, ledger_key, settings
):
    offline_settings = msgspec.structs.replace(platform_settings, stellar_horizon_url=None)
    async with running_services(offline_settings) as offline:
        job = await stored(api, offline, cast.alice, cast.alice.id, blob(10, seed=15))
        kept = await run_anchoring(offline)
    assert kept.status is JobStatus.SUCCEEDED
    assert kept.result["waitingForHorizon"] is True
    [batch] = rows(settings.database_url, "SELECT status, tx_hash FROM anchor_batches")
    assert batch["status"] == "signed"
    assert horizon.landed(ledger_key.public_key) == []

    async with running_services(platform_settings) as online:
        sent = await run_anchoring(online)

    assert sent.status is JobStatus.SUCCEEDED, sent.error
    [landed] = horizon.landed(ledger_key.public_key)
    [batch] = rows(settings.database_url, "SELECT status, tx_hash FROM anchor_batches")
    assert batch == {"status": "anchored", "tx_hash": landed["hash"]}
    polled = await api.get(f"/api/v1/jobs/{job.id}", headers=cast.alice.headers)
    assert polled.json()["result"]["stellarTxHash"] == landed["hash"]


# --- listing, deleting ------------------------------------------------------------------------


async def test_listing_filters_by_type_and_pages(api, platform, cast):
    for seed, kind in enumerate(["LAB_RESULT", "IMAGING", "LAB_RESULT"]):
        await stored(
            api, platform, cast.alice, cast.alice.id, blob(10, seed=20 + seed), recordType=kind
        )

    labs = await api.get(
        "/api/v1/records",
        headers=cast.chantha.headers,
        params={"patientId": str(cast.alice.id), "recordType": "LAB_RESULT", "limit": 1},
    )
    body = labs.json()
    assert labs.status_code == 200, body
    assert [item["recordType"] for item in body["items"]] == ["LAB_RESULT"]
    rest = await api.get(
        "/api/v1/records",
        headers=cast.chantha.headers,
        params={
            "patientId": str(cast.alice.id),
            "recordType": "LAB_RESULT",
            "cursor": body["nextCursor"],
        },
    )
    assert [item["recordType"] for item in rest.json()["items"]] == ["LAB_RESULT"]
    assert rest.json()["nextCursor"] is None
    own = await api.get("/api/v1/records", headers=cast.alice.headers)
    assert len(own.json()["items"]) == 3


async def test_an_admins_list_of_every_patient_keeps_descriptions_sealed_and_audits_each(
    api, platform, cast, settings
):
    for member, seed in ((cast.alice, 40), (cast.borey, 41)):
        await stored(api, platform, member, member.id, blob(10, seed=seed))

    everyone = await api.get("/api/v1/records", headers=cast.eang.headers)

    items = everyone.json()["items"]
    assert {item["patientId"] for item in items} == {str(cast.alice.id), str(cast.borey.id)}
    assert all(item["description"] is None for item in items)
    listed = {e["resource_id"] for e in audit_events(settings.database_url, "record.list")}
    assert listed == {str(cast.alice.id), str(cast.borey.id)}
    named = await api.get(
        "/api/v1/records", headers=cast.eang.headers, params={"patientId": str(cast.alice.id)}
    )
    assert [item["description"] for item in named.json()["items"]] == ["Lipid panel, fasting"]


async def test_a_deleted_record_is_gone_audited_and_unpinned_after_retention(
    api, platform, cast, settings
):
    job = await stored(api, platform, cast.alice, cast.alice.id, blob(10, seed=30))
    record_id = job.result["recordId"]

    deleted = await api.delete(f"/api/v1/records/{record_id}", headers=cast.alice.headers)

    assert deleted.status_code == 204
    gone = await api.get(f"/api/v1/records/{record_id}", headers=cast.alice.headers)
    assert_problem(gone, 404)
    assert [e["action"] for e in audit_events(settings.database_url, "record.delete")] == [
        "record.delete"
    ]
    from tests.support.records import unpin_files as unpin_expired

    not_yet = await unpin_expired(platform.uow, platform.content, platform.clock, 30)
    assert not_yet.records == 0
    report = await unpin_expired(platform.uow, platform.content, platform.clock, 0)
    assert report.records == 1
    [row] = rows(
        settings.database_url, "SELECT unpinned_at FROM records WHERE id = %s", (record_id,)
    )
    assert row["unpinned_at"] is not None


async def test_strangers_get_404_and_the_refusal_changes_nothing(api, platform, cast, settings):
    job = await stored(api, platform, cast.alice, cast.alice.id, blob(10, seed=31))
    record_id = job.result["recordId"]

    for member in (cast.borey, cast.dararith):
        assert_problem(await api.get(f"/api/v1/records/{record_id}", headers=member.headers), 404)
    upload = await upload_record(api, cast.dararith.headers, cast.alice.id, blob(10))
    assert_problem(upload, 404)
    admin_content = await api.get(f"/api/v1/records/{record_id}/content", headers=cast.eang.headers)
    assert_problem(admin_content, 403)
    assert rows(settings.database_url, "SELECT count(*) AS n FROM records")[0]["n"] == 1
