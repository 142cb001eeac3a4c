"""Records pipeline: records/s from upload to anchored, against raw IPFS adds in the same run.

    .venv/bin/python -m bench.records_pipeline [--records 200] [--size 100000] [--concurrency 8]
                                               [--ledger-seconds 5]

What runs, all on 127.0.0.1: a js-ipfs node (tools/jsipfs, as the test suite
starts it; or IPFS_API_URL), the local Horizon-compatible server of the tests
closing a ledger every --ledger-seconds (Stellar's is ~5 s) and taking one
transaction per account per ledger, and the platform's own processes as the
Procfile runs them: uvicorn (the API), `dramatiq workers.app --queues default
ipfs` (2 x 8), `--queues stellar` (1 x 1) and the scheduler (anchoring every 1 s).

1. baseline: the same number of same-sized (other) files added straight to the
   node through the content-store client (add + pin), with the same concurrency;
2. the pipeline: each file uploaded with POST /api/v1/records (multipart); the
   clock stops when every record is ``anchored`` in PostgreSQL.
Printed: records/s for both, their ratio, how many anchor transactions landed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
from stellar_sdk import Keypair

from api.tokens import mint_token
from bench._support import Child, Servers, app_env, free_port, fresh_database, note, table
from domain.adapters.files.ipfs_node import KuboContentStore
from tests.support.horizon import running_horizon
from tests.support.ipfs_node import JsIpfsNode


def payloads(count: int, size: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    return [rng.randbytes(size) for _ in range(count)]


async def one_piece(data: bytes):
    yield data


async def raw_adds(api_url: str, files: list[bytes], concurrency: int) -> float:
    store = KuboContentStore(api_url)
    gate = asyncio.Semaphore(concurrency)

    async def add(data: bytes) -> None:
        async with gate:
            await store.add(one_piece(data))

    try:
        started = time.perf_counter()
        await asyncio.gather(*(add(data) for data in files))
        return time.perf_counter() - started
    finally:
        await store.close()


def add_patient(database_url: str) -> uuid.UUID:
    patient_id = uuid.uuid4()
    now = datetime.now(UTC)
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO users (id, email, role, status, name, created_at, updated_at) "
            "VALUES (%s, %s, 'patient', 'active', 'Bench Patient', %s, %s)",
            (patient_id, f"bench-{patient_id.hex[:8]}@healthplat.dev", now, now),
        )
    return patient_id


async def upload_all(
    base: str, token: str, patient_id: uuid.UUID, files: list[bytes], concurrency: int
) -> None:
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:

        async def upload(data: bytes) -> None:
            async with gate:
                response = await client.post(
                    "/api/v1/records",
                    headers={"Authorization": f"Bearer {token}"},
                    data={"patientId": str(patient_id), "recordType": "OTHER"},
                    files={"file": ("r.bin", data, "application/octet-stream")},
                )
                if response.status_code != 202:
                    raise RuntimeError(f"upload refused: {response.status_code} {response.text}")

        await asyncio.gather(*(upload(data) for data in files))


def progress(database_url: str) -> tuple[int, int]:
    """(records stored on IPFS, records anchored)."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE anchor_status = 'anchored') FROM records"
        ).fetchone()
    return int(row[0]), int(row[1])


def wait_ready(base: str, api: Child, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if api.process.poll() is not None:
            raise RuntimeError(f"the API exited; see {api.log_path}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/health/live", timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise TimeoutError("the API did not start")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=200)
    parser.add_argument("--size", type=int, default=100_000, help="bytes per record")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--ledger-seconds", type=float, default=5.0)
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args(argv)

    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hp-bench-rec-")))
        servers = Servers(stack)
        servers.flush_redis()
        stack.callback(servers.flush_redis)
        database_url = stack.enter_context(fresh_database(servers.admin_database_url))
        node = JsIpfsNode(workdir / "ipfs")
        ipfs_url = node.start()
        stack.callback(node.stop)
        horizon = stack.enter_context(
            running_horizon(ledger_seconds=args.ledger_seconds, submission_timeout=30.0)
        )
        key = Keypair.random()
        horizon.fund(key.public_key)
        note(f"PostgreSQL: {servers.postgres_label}; Redis: {servers.redis_label}")
        note(f"IPFS: js-ipfs {ipfs_url}; Horizon: local, ledger every {args.ledger_seconds} s")

        baseline_files = payloads(args.records, args.size, seed=1)
        note(f"baseline: {args.records} raw adds of {args.size} bytes")
        baseline_seconds = asyncio.run(raw_adds(ipfs_url, baseline_files, args.concurrency))

        env = app_env(
            database_url,
            servers.redis_url,
            workdir / "data",
            IPFS_API_URL=ipfs_url,
            STELLAR_SECRET_KEY=key.secret,
            STELLAR_HORIZON_URL=horizon.url,
            STELLAR_NETWORK_PASSPHRASE=horizon.network_passphrase,
            ANCHOR_INTERVAL_SECONDS="1",
            LOG_LEVEL="WARNING",
            RATE_LIMIT_USER_PER_MINUTE="1000000",
        )
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        python = sys.executable
        children = [
            Child(
                [python, "-m", "uvicorn", "--factory", "api.app:create_app", "--port", str(port),
                 "--no-access-log"],
                env, workdir / "api.log",
            ),
            Child(
                [python, "-m", "dramatiq", "workers.app", "--queues", "default", "ipfs",
                 "--processes", "2", "--threads", "8"],
                env, workdir / "worker.log",
            ),
            Child(
                [python, "-m", "dramatiq", "workers.app", "--queues", "stellar",
                 "--processes", "1", "--threads", "1"],
                env, workdir / "stellar.log",
            ),
            Child([python, "-m", "workers.scheduler"], env, workdir / "scheduler.log"),
        ]  # fmt: skip
        for child in reversed(children):
            stack.callback(child.stop)
        wait_ready(base, children[0])
        patient_id = add_patient(database_url)
        token = mint_token(env["JWT_SECRET"], str(patient_id), "patient", 3600)

        files = payloads(args.records, args.size, seed=2)
        note(f"pipeline: {args.records} uploads of {args.size} bytes, until all are anchored")
        started = time.perf_counter()
        asyncio.run(upload_all(base, token, patient_id, files, args.concurrency))
        uploaded = time.perf_counter() - started
        deadline = time.monotonic() + args.timeout
        stored_seconds = None
        while True:
            stored, done = progress(database_url)
            if stored_seconds is None and stored >= args.records:
                stored_seconds = time.perf_counter() - started
            if done >= args.records:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"not all anchored in {args.timeout} s; see {workdir}")
            time.sleep(0.05)
        pipeline_seconds = time.perf_counter() - started
        transactions = len(horizon.landed(key.public_key))

    rows = [
        ["raw IPFS add + pin (baseline)", f"{args.records / baseline_seconds:,.1f}", "1.00", "-"],
        [
            "upload -> stored on IPFS (record row)",
            f"{args.records / stored_seconds:,.1f}",
            f"{baseline_seconds / stored_seconds:.2f}",
            "-",
        ],
        [
            "upload -> IPFS -> anchored",
            f"{args.records / pipeline_seconds:,.1f}",
            f"{baseline_seconds / pipeline_seconds:.2f}",
            str(transactions),
        ],
    ]
    print(table(["path", "records/s", "ratio to baseline", "anchor txs"], rows))
    print(
        f"\n{args.records} records of {args.size:,} bytes, concurrency {args.concurrency}; "
        f"uploads accepted in {uploaded:.1f} s ({args.records / uploaded:,.1f}/s); "
        f"ledger every {args.ledger_seconds} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
