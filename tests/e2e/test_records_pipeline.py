"""The records pipeline with the platform's real processes: upload → worker → IPFS → scheduler →
anchoring on the (local) ledger, as the Procfile runs it."""

from __future__ import annotations

import msgspec
import pytest
from stellar_sdk import Keypair

from domain.adapters.files.unixfs import cid_of_bytes
from tests.support.api import api_client
from tests.support.jobs import async_wait_until
from tests.support.processes import start_scheduler, start_worker
from tests.support.records import blob, job_id_of, upload_record
from tests.support.users import add_cast

pytestmark = pytest.mark.slow


async def test_uploads_are_stored_and_anchored_by_the_running_platform(
    settings, ipfs_api_url, horizon, processes, log_dir
) -> None:
    key = Keypair.random()
    horizon.fund(key.public_key)
    configured = msgspec.structs.replace(
        settings,
        ipfs_api_url=ipfs_api_url,
        stellar_secret_key=key.secret,
        stellar_horizon_url=horizon.url,
        stellar_network_passphrase=horizon.network_passphrase,
        anchor_interval_seconds=0.5,
    )
    async with api_client(configured) as api:
        cast = await add_cast(api.app.state.services)
        data = [blob(20_000, seed=seed) for seed in range(5)]
        job_ids = [
            job_id_of(await upload_record(api, cast.alice.headers, cast.alice.id, one))
            for one in data
        ]
        processes.append(start_worker(configured, log_dir))
        processes.append(start_scheduler(configured, log_dir))

        async def all_anchored() -> bool:
            for job_id in job_ids:
                job = (await api.get(f"/api/v1/jobs/{job_id}", headers=cast.alice.headers)).json()
                if (job.get("result") or {}).get("anchorStatus") != "anchored":
                    return False
            return True

        await async_wait_until(all_anchored, timeout=60, interval=0.5)

        landed = horizon.landed(key.public_key)
        hashes = set()
        for job_id, one in zip(job_ids, data, strict=True):
            polled = await api.get(f"/api/v1/jobs/{job_id}", headers=cast.alice.headers)
            result = polled.json()["result"]
            assert result["cid"] == cid_of_bytes(one)
            hashes.add(result["stellarTxHash"])
        assert hashes <= {tx["hash"] for tx in landed}
        assert 1 <= len(landed) <= len(data)  # batched: never more than one per record
