"""Payment callbacks end to end, and polling many pending payments, against local servers.

    .venv/bin/python -m bench.webhooks [--callbacks 2000] [--concurrency 16] [--pending 10000]

1. **Callbacks.** The API (uvicorn, one process) and a worker pool (``dramatiq workers.app
   --queues default email``, 1 process x 8 threads) run on a fresh migrated database. The
   bench stores ``--callbacks`` pending payments, then sends one signed Bakong
   ``payment.completed`` delivery for each (Standard Webhooks headers, ``--concurrency`` at
   once, over HTTP on 127.0.0.1). It reports the deliveries acknowledged per second with the
   p50/p99 of the acknowledgement latency (verify + store sealed + enqueue + answer), and the
   deliveries processed end to end per second: from the first send until every payment is
   completed (the ``webhook.process`` job, the completion, its activation job, receipt
   e-mail and notice all committed).
2. **Polling.** ``--pending`` pending payments, all due a check, a tenth of them paid at the
   local Bakong Open API (tests/support/bakong.py, which checks the token and schema as the
   real one does); one polling run (the ``payment.poll`` job's work, in this process, with the
   project's real client) asks about them 50 MD5s per call. It reports the calls and seconds.

Bounded by its sizes; targets 127.0.0.1 only; the database is dropped and the Redis database
flushed afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psycopg

from bench._support import Child, Servers, app_env, figure, free_port, fresh_database, note, table
from domain.adapters.bootstrap import build_services
from domain.adapters.jobs.messaging import build_broker
from domain.payments.polling import poll_pending
from domain.settings import load_settings
from tests.support.bakong import TOKEN, running_bakong
from tests.support.payments import new_payment
from tests.support.people import PATIENT_ALICE
from tests.support.users import add_user
from tests.support.webhooks import NEW_SECRET, event_body, signed

UNLIMITED_PER_MINUTE = "1000000000"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def store_payments(services, user_id, count: int) -> list:
    made = [new_payment(user_id) for _ in range(count)]
    async with services.uow() as uow:
        for payment in made:
            await uow.payments.add(payment)
    return made


def completed(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        return conn.execute("SELECT count(*) FROM payments WHERE status = 'completed'").fetchone()[
            0
        ]


async def send_callbacks(url: str, payments: list, concurrency: int) -> list[float]:
    bodies = [
        event_body(
            "payment.completed",
            md5=p.md5,
            hash=f"{i:064x}",
            amount="5",
            currency="USD",
            acknowledgedDateMs=int(time.time() * 1000),
        )
        for i, p in enumerate(payments)
    ]
    latencies: list[float] = []
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)

    async def sender(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            body = queue.get_nowait()
            started = time.perf_counter()
            response = await client.post(url, content=body, headers=signed(body, NEW_SECRET))
            latencies.append(time.perf_counter() - started)
            if response.status_code != 202:
                raise RuntimeError(f"delivery answered {response.status_code}: {response.text}")

    async with httpx.AsyncClient(timeout=30.0) as client:
        await asyncio.gather(*(sender(client) for _ in range(concurrency)))
    return latencies


async def measure(args: argparse.Namespace) -> dict[str, object]:
    """The run's raw figures: latencies, seconds, the poll's counts."""
    with contextlib.ExitStack() as stack:
        servers = Servers(stack)
        database_url = stack.enter_context(fresh_database(servers.admin_database_url))
        servers.flush_redis()
        stack.callback(servers.flush_redis)
        bakong = stack.enter_context(running_bakong())
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hp-bench-hooks-")))
        env = app_env(
            database_url,
            servers.redis_url,
            workdir / "data",
            WEBHOOK_SECRETS=f"bakong:{NEW_SECRET}",
            BAKONG_ACCOUNT_ID="healthplat@aclb",
            BAKONG_API_URL=bakong.url,
            BAKONG_TOKEN=TOKEN,
            RATE_LIMIT_USER_PER_MINUTE=UNLIMITED_PER_MINUTE,
            LOG_LEVEL="WARNING",
        )
        settings = load_settings(env)
        services = build_services(settings, build_broker(settings.redis_url), pool_max_size=4)
        await services.open(wait_for_database=True)
        try:
            user_id = await add_user(services, PATIENT_ALICE)
            payments = await store_payments(services, user_id, args.callbacks)
            port = free_port()
            python = sys.executable
            children = [
                Child(
                    [
                        python,
                        "-m",
                        "uvicorn",
                        "--factory",
                        "api.app:create_app",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(port),
                        "--no-access-log",
                    ],
                    env,
                    workdir / "api.log",
                ),
                Child(
                    [
                        python,
                        "-m",
                        "dramatiq",
                        "workers.app",
                        "--queues",
                        "default",
                        "email",
                        "--processes",
                        "1",
                        "--threads",
                        "8",
                    ],
                    env,
                    workdir / "worker.log",
                ),
            ]
            for child in children:
                stack.callback(child.stop)
            await wait_for_api(f"http://127.0.0.1:{port}/health/live")
            note(f"sending {args.callbacks} callbacks, {args.concurrency} at once")
            started = time.perf_counter()
            latencies = await send_callbacks(
                f"http://127.0.0.1:{port}/api/v1/webhooks/bakong", payments, args.concurrency
            )
            acked = time.perf_counter() - started
            while completed(database_url) < args.callbacks:
                if time.perf_counter() - started > args.timeout:
                    raise TimeoutError("the callbacks were not all processed in time")
                await asyncio.sleep(0.05)
            processed = time.perf_counter() - started
            for child in children:
                child.stop()

            note(f"polling {args.pending} pending payments")
            pending = await store_payments(services, user_id, args.pending)
            for payment in pending[::10]:
                bakong.pay(payment.khqr)
            poll_started = time.perf_counter()
            counts = await poll_pending(
                uow_factory=services.uow,
                clock=services.clock,
                sender=services.sender,
                live=services.live,
                network=services.network,
                renderer=services.renderer,
                addresses=services.addresses,
                settings=settings,
            )
            polled = time.perf_counter() - poll_started
        finally:
            await services.close()
    return {
        "latencies": latencies,
        "acked": acked,
        "processed": processed,
        "counts": counts,
        "polled": polled,
    }


def figures(*, quick: bool = False) -> dict[str, object]:
    """The runner's view: acknowledgements and end-to-end processing per second, ack p99."""
    args = argparse.Namespace(
        callbacks=300 if quick else 2000, concurrency=16, pending=1000 if quick else 10_000,
        timeout=300.0,
    )  # fmt: skip
    m = asyncio.run(measure(args))
    latencies: list[float] = m["latencies"]  # type: ignore[assignment]
    rows = [
        figure("webhooks acknowledged", args.callbacks / m["acked"], "callbacks/s"),  # type: ignore[operator]
        figure("webhooks ack p99", percentile(latencies, 0.99) * 1000, "ms"),
        figure("webhooks processed end to end", args.callbacks / m["processed"], "callbacks/s"),  # type: ignore[operator]
        figure(f"polling {args.pending:,} pending payments", m["polled"], "s"),  # type: ignore[arg-type]
    ]
    summary = {k: v for k, v in m.items() if k != "latencies"}
    return {"bench": "webhooks", "callbacks": args.callbacks, **summary, "rows": rows}


async def run(args: argparse.Namespace) -> int:
    m = await measure(args)
    latencies: list[float] = m["latencies"]  # type: ignore[assignment]
    acked, processed, polled = m["acked"], m["processed"], m["polled"]
    counts: dict[str, int] = m["counts"]  # type: ignore[assignment]
    p99 = percentile(latencies, 0.99)
    print(
        table(
            ["measure", "value"],
            [
                ["callbacks sent (signed, concurrency)", f"{args.callbacks} ({args.concurrency})"],
                ["acknowledged per second", f"{args.callbacks / acked:,.0f}"],
                [
                    "ack latency p50 / p99 (ms)",
                    f"{statistics.median(latencies) * 1000:.1f} / {p99 * 1000:.1f}",
                ],
                ["processed end to end per second", f"{args.callbacks / processed:,.0f}"],
                ["all completed after (s)", f"{processed:.2f}"],
                ["pending payments polled", f"{counts['asked']:,}"],
                ["  paid among them, completed", f"{counts.get('completed', 0):,}"],
                ["  calls to check_transaction_by_md5_list", f"{counts['calls']:,}"],
                ["  seconds for the whole run", f"{polled:.2f}"],
            ],
        )
    )
    return 0


async def wait_for_api(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                if (await client.get(url)).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise TimeoutError("the API did not start")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--callbacks", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--pending", type=int, default=10_000)
    parser.add_argument("--timeout", type=float, default=300.0)
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
