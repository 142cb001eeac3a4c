"""How many Dramatiq messages wait in Redis, read from the keys RedisBroker writes.

Key layout (dramatiq/brokers/redis/dispatch.lua): ``{ns}:{queue}`` is a list
of message ids ready for a worker, ``{ns}:{queue}.msgs`` a hash of every
message of the queue not yet acked (ready or being worked on);
``{ns}:{queue}.DQ`` and ``{ns}:{queue}.DQ.msgs`` are the same for delayed
messages (retries waiting for their time, held until then by a worker);
``{ns}:{queue}.XQ`` is a sorted set of dead-lettered message ids.
"""

from __future__ import annotations

from collections.abc import Iterable

import redis

from domain.monitoring.ports import QueueDepth

DEFAULT_NAMESPACE = "dramatiq"


def queue_depths(
    client: redis.Redis, queues: Iterable[str], namespace: str = DEFAULT_NAMESPACE
) -> list[QueueDepth]:
    """One round trip for all queues; blocking, so call it on a worker thread."""
    names = sorted(set(queues))
    pipe = client.pipeline(transaction=False)
    for queue in names:
        key = f"{namespace}:{queue}"
        pipe.llen(key)
        pipe.hlen(f"{key}.msgs")
        pipe.hlen(f"{key}.DQ.msgs")
        pipe.zcard(f"{key}.XQ")
    replies = pipe.execute()
    depths = []
    for index, queue in enumerate(names):
        ready, stored, delayed, dead = (int(value) for value in replies[index * 4 : index * 4 + 4])
        depths.append(
            QueueDepth(
                queue=queue,
                ready=ready,
                in_flight=max(stored - ready, 0),
                delayed=delayed,
                dead=dead,
            )
        )
    return depths
