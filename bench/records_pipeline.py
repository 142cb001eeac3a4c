"""Records pipeline: upload -> stored on IPFS, against raw IPFS add + pin in the same run.

    .venv/bin/python -m bench.records_pipeline [--records 100] [--pairs 5] [--size 100000]
                                               [--concurrency 8] [--ledger-seconds 5]

What runs, all on 127.0.0.1: a js-ipfs node (tools/jsipfs, as the test suite
starts it), the local Horizon-compatible server of the tests closing a ledger
every --ledger-seconds (Stellar's is ~5 s) and taking one transaction per account
per ledger, and the platform's own processes as the Procfile runs them: uvicorn
(the API), `dramatiq workers.app --queues default ipfs` (2 x 8), `--queues stellar`
(1 x 1) and the scheduler (anchoring every 1 s).

Then --pairs interleaved pairs (A, B, A, B ...) of --records fresh random files each:

A. baseline: the files added straight to the node through the content-store
   client (add + pin, the CID checked), --concurrency at once;
B. the pipeline: each file uploaded with POST /api/v1/records (multipart, through
   aiohttp as the baseline's adds are), the same concurrency; the clock stops when
   every record of the batch has its row (stored on IPFS, pinned, CID recorded).

The ratio is the median of the pairs' (A seconds / B seconds); the target is
>= 0.6. After the pairs, the time until every record is ``anchored``. Also the CPU
each process used per file in each phase (API, workers, the node, our PostgreSQL
backends, this process): counts that do not depend on what else the machine runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import httpx
import psycopg
from stellar_sdk import Keypair

from api.tokens import mint_token
from bench._support import (
    Child,
    Servers,
    app_env,
    cpu_seconds,
    database_cpu_seconds,
    figure,
    free_port,
    fresh_database,
    median,
    note,
    process_tree,
    table,
)
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
    # aiohttp, the HTTP client the baseline's adds go through (aioipfs): the two phases pay
    # the same client cost, so the ratio compares the platform with the node alone
    gate = asyncio.Semaphore(concurrency)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(base_url=base, timeout=timeout) as session:

        async def upload(data: bytes) -> None:
            form = aiohttp.FormData()
            form.add_field("patientId", str(patient_id))
            form.add_field("recordType", "OTHER")
            form.add_field("file", data, filename="r.bin", content_type="application/octet-stream")
            async with (
                gate,
                session.post(
                    "/api/v1/records", data=form, headers={"Authorization": f"Bearer {token}"}
                ) as response,
            ):
                if response.status != 202:
                    text = await response.text()
                    raise RuntimeError(f"upload refused: {response.status} {text}")

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


class Meters:
    """CPU seconds of each part of the platform, read between phases."""

    def __init__(self, parts: dict[str, int], database_url: str) -> None:
        self._parts = parts  # name -> root pid
        self._admin_url = database_url

    def read(self) -> dict[str, float]:
        seen = {name: cpu_seconds(process_tree(pid)) for name, pid in self._parts.items()}
        seen["postgres (our backends)"] = database_cpu_seconds(self._admin_url)
        own = os.times()
        seen["bench client (this process)"] = own.user + own.system
        return seen


def spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    # a backend that appeared since ``before`` counts from zero
    return {name: max(0.0, after[name] - before.get(name, 0.0)) for name in after}


def wait_stored(database_url: str, target: int, timeout: float, workdir: Path) -> None:
    deadline = time.monotonic() + timeout
    while progress(database_url)[0] < target:
        if time.monotonic() > deadline:
            raise TimeoutError(f"not all stored in {timeout} s; see {workdir}")
        time.sleep(0.01)


def figures(
    *,
    quick: bool = False,
    records: int | None = None,
    pairs: int = 5,
    size: int = 100_000,
    concurrency: int = 8,
    ledger_seconds: float = 5.0,
    timeout: float = 600.0,
) -> dict[str, object]:
    """Run the bench; its figures (see the module's text) as a dict, rows for the runner."""
    per_batch = records if records is not None else (40 if quick else 100)
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
            running_horizon(ledger_seconds=ledger_seconds, submission_timeout=30.0)
        )
        key = Keypair.random()
        horizon.fund(key.public_key)
        note(f"PostgreSQL: {servers.postgres_label}; Redis: {servers.redis_label}")
        note(f"IPFS: js-ipfs {ipfs_url}; Horizon: local, ledger every {ledger_seconds} s")
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
        api, workers, stellar, scheduler = (
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
        )  # fmt: skip
        for child in (scheduler, stellar, workers, api):
            stack.callback(child.stop)
        wait_ready(base, api)
        patient_id = add_patient(database_url)
        token = mint_token(env["JWT_SECRET"], str(patient_id), "patient", 3600)
        node_process = node._process  # the bench reads its CPU time
        assert node_process is not None
        meters = Meters(
            {
                "API (uvicorn)": api.process.pid,
                "workers (2 x 8)": workers.process.pid,
                "js-ipfs node": node_process.pid,
                "stellar worker + scheduler": stellar.process.pid,
            },
            database_url,
        )

        note("warm-up: 16 raw adds, 16 uploads")
        asyncio.run(raw_adds(ipfs_url, payloads(16, size, seed=-1), concurrency))
        asyncio.run(upload_all(base, token, patient_id, payloads(16, size, seed=-2), concurrency))
        stored = 16
        wait_stored(database_url, stored, timeout, workdir)

        raw_times: list[float] = []
        pipeline_times: list[float] = []
        raw_cpu: list[dict[str, float]] = []
        pipeline_cpu: list[dict[str, float]] = []
        for pair in range(pairs):
            note(f"pair {pair + 1}/{pairs}: {per_batch} raw adds, then {per_batch} uploads")
            before = meters.read()
            raw_times.append(
                asyncio.run(raw_adds(ipfs_url, payloads(per_batch, size, 2 * pair), concurrency))
            )
            middle = meters.read()
            raw_cpu.append(spent(before, middle))
            files = payloads(per_batch, size, seed=2 * pair + 1)
            started = time.perf_counter()
            asyncio.run(upload_all(base, token, patient_id, files, concurrency))
            stored += per_batch
            wait_stored(database_url, stored, timeout, workdir)
            pipeline_times.append(time.perf_counter() - started)
            pipeline_cpu.append(spent(middle, meters.read()))

        note("waiting until every record is anchored")
        last_stored = time.perf_counter()
        deadline = time.monotonic() + timeout
        while progress(database_url)[1] < stored:
            if time.monotonic() > deadline:
                raise TimeoutError(f"not all anchored in {timeout} s; see {workdir}")
            time.sleep(0.05)
        anchored_after = time.perf_counter() - last_stored
        transactions = len(horizon.landed(key.public_key))

    ratios = [raw / piped for raw, piped in zip(raw_times, pipeline_times, strict=True)]
    ratio = median(ratios)
    raw_rate = per_batch / median(raw_times)
    pipeline_rate = per_batch / median(pipeline_times)
    parts = list(raw_cpu[0])
    cpu_ms = {
        part: {
            "raw": 1000 * median([c[part] for c in raw_cpu]) / per_batch,
            "pipeline": 1000 * median([c[part] for c in pipeline_cpu]) / per_batch,
        }
        for part in parts
    }
    return {
        "bench": "records_pipeline",
        "settings": {
            "records_per_batch": per_batch,
            "pairs": pairs,
            "size": size,
            "concurrency": concurrency,
            "ledger_seconds": ledger_seconds,
        },
        "raw_seconds": raw_times,
        "pipeline_seconds": pipeline_times,
        "ratios": ratios,
        "cpu_ms_per_file": cpu_ms,
        "anchored_seconds_after_last_stored": anchored_after,
        "anchor_transactions": transactions,
        "rows": [
            figure(
                f"records: upload -> stored on IPFS ({per_batch} x {size:,} B, "
                f"median of {pairs} pairs)",
                pipeline_rate,
                "records/s",
                baseline=raw_rate,
                baseline_name="raw IPFS add + pin, same node",
                ratio=ratio,
                target="ratio >= 0.6",
                met=ratio >= 0.6,
            )
        ],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100, help="files per batch")
    parser.add_argument("--pairs", type=int, default=5, help="interleaved pairs of batches")
    parser.add_argument("--size", type=int, default=100_000, help="bytes per record")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--ledger-seconds", type=float, default=5.0)
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args(argv)
    result = figures(
        records=args.records,
        pairs=args.pairs,
        size=args.size,
        concurrency=args.concurrency,
        ledger_seconds=args.ledger_seconds,
        timeout=args.timeout,
    )
    n = args.records
    rows = [
        [
            str(i + 1),
            f"{n / raw:,.1f}",
            f"{n / piped:,.1f}",
            f"{ratio:.2f}",
        ]
        for i, (raw, piped, ratio) in enumerate(
            zip(result["raw_seconds"], result["pipeline_seconds"], result["ratios"], strict=True)
        )
    ]
    (row,) = result["rows"]
    medians = [f"{row['baseline']:,.1f}", f"{row['value']:,.1f}", f"{row['ratio']:.2f}"]
    rows.append(["median", *medians])
    print(table(["pair", "raw add+pin files/s", "upload -> stored records/s", "ratio"], rows))
    print()
    cpu = result["cpu_ms_per_file"]
    print("CPU ms per file, median over the pairs (load-independent cost)")
    print(
        table(
            ["process", "raw add + pin", "pipeline"],
            [[p, f"{c['raw']:.2f}", f"{c['pipeline']:.2f}"] for p, c in cpu.items()]
            + [
                [
                    "total",
                    f"{sum(c['raw'] for c in cpu.values()):.2f}",
                    f"{sum(c['pipeline'] for c in cpu.values()):.2f}",
                ]
            ],
        )
    )
    print(
        f"\n{args.pairs} pairs of {n} files of {args.size:,} bytes, "
        f"concurrency {args.concurrency}, {os.cpu_count()} CPUs; every record anchored "
        f"{result['anchored_seconds_after_last_stored']:.1f} s after the last was stored "
        f"({result['anchor_transactions']} transactions, ledger every {args.ledger_seconds} s); "
        f"target ratio >= 0.6: {'met' if row['met'] else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
