"""The baseline for bench/throughput.py: Dramatiq alone, a RedisBroker and a no-op actor.

Run by the bench as ``dramatiq bench.bare_actor --processes 2 --threads 8 --queues
default`` with BENCH_REDIS_URL pointing at the bench's Redis database. Nothing of
the platform is imported: this is what the same Redis and pool do with no job
state at all.
"""

from __future__ import annotations

import os
import time

import dramatiq
from dramatiq.brokers.redis import RedisBroker

QUEUE = "default"

broker = RedisBroker(url=os.environ["BENCH_REDIS_URL"])
dramatiq.set_broker(broker)


@dramatiq.actor(queue_name=QUEUE, max_retries=0)
def bare_noop() -> None:
    return None


@dramatiq.actor(queue_name=QUEUE, max_retries=0)
def bare_stamp(sent_at: float) -> None:
    """For bench/idle_latency.py: how long after its send (``time.time()``) it started."""
    started = time.time()
    broker.client.rpush("bench:idle:stamps", started - sent_at)
