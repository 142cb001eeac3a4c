"""Dramatiq over Redis as the platform's message channel.

The API and the relay send work by actor *name* (a bare ``dramatiq.Message``),
so nothing outside ``workers`` imports an actor. A message says only "job X
is due"; the job's row says everything else.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import dramatiq
import msgspec
import redis
import redis.asyncio as aioredis
from dramatiq.brokers.redis import RedisBroker, _RedisConsumer
from dramatiq.common import current_millis, dq_name
from dramatiq.errors import ConnectionClosed
from dramatiq.message import Message

from domain.adapters.jobs.acks import AckSender
from domain.adapters.jobs.coalescer import Coalescer
from domain.jobs.model import Job, actor_name_of
from domain.setting_values import SettingsError, refusal

# A message held by a SIGKILLed worker is handed out again only through Redis
# "maintenance"; these values make that take seconds instead of a quarter hour
# (SERVICES.md). The relay recovers the job either way.
HEARTBEAT_TIMEOUT_MS = 15_000
MAINTENANCE_CHANCE = 10_000
# A consumer whose prefetch stays full (long attempts, a backlog) fetches nothing, and a
# fetch is what beats its heartbeat: it beats this often meanwhile, or the others'
# maintenance would take its messages back while their attempts run.
FULL_PREFETCH_BEAT_SECONDS = HEARTBEAT_TIMEOUT_MS / 1000 / 3


# Dramatiq's dispatch script acknowledges one message a call (its "ack" command: the
# worker's heartbeat, then the message out of the worker's ack set and, if it was there,
# out of the queue's messages). This does exactly that for every message id it is given,
# in one call: one evalsha of 8 arguments a message cost the ack thread a tenth of a
# worker process's samples under bench.throughput.
# KEYS: namespace; ARGV: timestamp, queue name, worker id, message ids...
ACK_MANY = """
local namespace = KEYS[1]
local queue_name, worker_id = ARGV[2], ARGV[3]
redis.call("zadd", namespace .. ":__heartbeats__", ARGV[1], worker_id)
local queue_acks = namespace .. ":__acks__." .. worker_id .. "." .. queue_name
local queue_messages = namespace .. ":" .. queue_name .. ".msgs"
for i = 4, #ARGV do
    if redis.call("srem", queue_acks, ARGV[i]) > 0 then
        redis.call("hdel", queue_messages, ARGV[i])
    end
end
"""

_Send = tuple[dramatiq.Message, int | None]  # a message and its delay in ms (None: now)
_Prepared = tuple[str, dramatiq.Message, int | None]  # its queue, as enqueue made it, delay
_Enqueue = tuple[str, str, bytes]  # queue name, Redis message id, encoded message

REDIS_URL_FORM = "a redis://, rediss:// or unix:// URL, e.g. redis://127.0.0.1:6379/0"


def check_redis_url(url: str) -> None:
    """Refuse REDIS_URL unless redis-py reads it (the broker and the rate limiter both do)."""
    try:
        redis.connection.parse_url(url)
    except ValueError:
        raise SettingsError(refusal("REDIS_URL", f"be {REDIS_URL_FORM}", url)) from None


# A ready queue's wake-up list holds at most this many tokens. Tokens pile up only while no
# consumer waits (all are busy); each left over costs one fetch when a consumer next goes idle.
WAKE_TOKENS_KEPT = 16


def wake_list(namespace: str, queue_name: str) -> str:
    """The Redis list of a ready queue's wake-up tokens: each enqueue pushes one, and one
    idle consumer takes it (BLPOP)."""
    return f"{namespace}:{queue_name}.wake"


# Starts the attempts of job messages on the worker's event loop, given (actor name, job id)
# pairs; returns, for each, a future done once its attempt is over (its outcome written, or
# given up), whose result is ``PUT_BACK`` (acks.py) if it never started.
StartAttempts = Callable[[list[tuple[str, str]]], list[concurrent.futures.Future[Any]]]


def _job_id_of(message: Any) -> str | None:
    """The job id a job message carries (``message_for``), None for any other message."""
    args = message.args
    if len(args) == 1 and isinstance(args[0], str) and not message.kwargs:
        return args[0]
    return None


def _is_delay_queue(queue_name: str) -> bool:
    return queue_name == dq_name(queue_name.removesuffix(".DQ"))


class _WakingConsumer(_RedisConsumer):
    """A queue's consumer that starts the job attempts it fetches on the worker's event loop
    itself, that, when a fetch finds nothing, waits for the queue's wake-up instead of
    sleeping, and whose acks are sent in batches by a thread of their own (acks.py).

    Starting attempts here (``WakingRedisBroker.start_directly``) skips Dramatiq's work
    queue and worker threads: a message went from this thread to a worker thread, which
    handed it to the loop, three threads taking turns at the GIL for each job (a fifth of
    a worker process's samples under bench.throughput). The messages of one fetch are
    handed over together. Messages of an actor with no such start take Dramatiq's way.

    A started message counts against the prefetch until its attempt is over, so the
    prefetch (``2 x --threads``) bounds the messages a process holds; while it is full,
    the consumer waits for an attempt to end rather than sleeping, and keeps its
    heartbeat (which only its fetches would otherwise refresh). Its ack is sent once the
    attempt is over: its outcome is then committed, or given up (the relay takes the job
    back).

    Dramatiq's consumer sleeps up to its worker timeout (1 s) once idle: a job submitted
    to an idle pool would wait that long. This one waits for a wake-up instead, for at most
    that timeout, then fetches again: a message no enqueue woke it for (one Redis put back
    from a worker that died) waits no longer than Dramatiq's polling would have let it.
    It does not poll in between: a consumer that polled from 5 ms up after every empty
    fetch, as Dramatiq's backoff does, fetched five to six times for each job at 100 jobs a
    second, most of them for nothing (bench.paced_jobs). A fetch that brings fewer
    messages than it asked for has emptied the queue, so it is followed by a wait, not by
    a second fetch; and messages put back on the queue wake it. Delay queues keep
    Dramatiq's polling (nothing there is due at once) and its acks (each follows the
    message's move to its ready queue).

    A wake-up is a token in the queue's wake-up list (``wake_list``), and a waiting
    consumer takes one with BLPOP: each wake-up wakes one consumer, however many processes
    wait on the queue. (With Pub/Sub every process's consumer was woken and fetched, and all
    but one found nothing: 5.1 fetches a job with 4 processes at 100 jobs/s, 3.0 with 2.)
    A token stays in the list until taken, so one pushed while every consumer was busy is
    not missed. A consumer woken by a token whose fetch filled its room may have left
    messages behind, so it passes a token on, waking the next idle consumer: a batch larger
    than one consumer's prefetch reaches them all.
    """

    def __init__(self, broker: WakingRedisBroker, queue_name: str, prefetch: int, timeout: int):
        super().__init__(broker, queue_name, prefetch, timeout)
        self._idle_ms = timeout
        self._emptied = False  # the last fetch found the queue emptied by it
        self._woken = False  # the last wait ended with a wake-up token
        self._wake_key = wake_list(broker.namespace, queue_name)
        self._acks: AckSender | None = None
        self._room = threading.Event()  # set when a message in flight leaves the prefetch
        self._last_beat = time.monotonic()  # of a heartbeat sent while the prefetch was full
        if not _is_delay_queue(queue_name):
            self.timeout = 0  # the base class's own sleep; the waiting is done below
            self._acks = AckSender(
                lambda ids: broker.ack_many(queue_name, ids),
                name=f"acks-{queue_name}",
                put_back=lambda ids: broker.requeue_and_wake(queue_name, ids),
            )

    def ack(self, message: Any) -> None:
        """Called by the worker thread that processed ``message`` (not started here)."""
        if self._acks is None:
            return super().ack(message)
        self._acks.add(message.options["redis_message_id"])
        self.queued_message_ids.discard(message.message_id)

    def _make_room(self, message_id: str) -> None:
        self.queued_message_ids.discard(message_id)
        self._room.set()

    def __next__(self) -> Any:
        if self._acks is None:  # a delay queue
            return super().__next__()
        if self._emptied and not self.message_cache:
            self._emptied = False
            return self._wait_for_wake_up()
        room = self.prefetch - self.outstanding_message_count  # what a fetch asks for
        fetching = not self.message_cache
        woken, self._woken = self._woken, False
        message = super().__next__()  # a fetch (when nothing is cached), no sleep (timeout 0)
        if message is not None:
            # a fetch that brought fewer than it asked for emptied the queue: the next message
            # will come with a wake-up, so wait for one rather than fetch again at once
            self._emptied = fetching and 1 + len(self.message_cache) < room
            left_some = woken and not self._emptied  # a wait is always followed by a fetch
            unstarted = self._start_here(message)
            if left_some:
                self._pass_wake_up_on()
            return unstarted
        if room <= 0:  # the prefetch is full: fetch again as soon as an attempt ends
            self._room.clear()  # room made before this shows in the count, after it in the event
            if self.outstanding_message_count >= self.prefetch and not self._room.wait(
                self._idle_ms / 1000
            ):
                self._beat_while_full()
            return None
        return self._wait_for_wake_up()

    def _wait_for_wake_up(self) -> None:
        """Until this consumer takes a wake-up token, or the timeout; the caller fetches next."""
        try:
            # a timeout of 0 would make BLPOP wait for ever: at least a millisecond
            taken = self.broker.client.blpop([self._wake_key], max(self._idle_ms, 1) / 1000)
        except redis.ConnectionError as e:
            raise ConnectionClosed(e) from None
        self._woken = taken is not None

    def _pass_wake_up_on(self) -> None:
        """Wake the next idle consumer: this one's fetch filled its room, and what it could not
        take is left for them. Called once the fetched messages are started; if Redis does
        not answer, the others fetch at their timeout (and this consumer's next fetch meets
        the outage)."""
        with contextlib.suppress(redis.RedisError):
            self.broker.wake([self.queue_name])

    def _start_here(self, first: Any) -> Any:
        """Start ``first`` and the messages fetched with it on the event loop, in one
        hand-over, up to one that cannot be: that one is returned, for Dramatiq's worker
        threads (None when all were started)."""
        start = self.broker.start_attempts
        if start is None:
            return first
        started: list[Any] = []
        message = first
        while message is not None and message.actor_name in self.broker.started_actors:
            if (job_id := _job_id_of(message)) is None:
                break  # not a job message: Dramatiq's worker thread fails it (dead letter)
            started.append((message, job_id))
            message = super().__next__() if self.message_cache else None
        if started:
            overs = start([(m.actor_name, job_id) for m, job_id in started])
            for (m, _), over in zip(started, overs, strict=True):
                self._hold_until_over(m, over)
        return message

    def _hold_until_over(self, message: Any, over: concurrent.futures.Future[Any]) -> None:
        """Ack ``message`` (or put it back) once its attempt is over; until then it counts
        against the prefetch."""
        assert self._acks is not None  # a ready queue's consumer
        self._acks.add(message.options["redis_message_id"], after=over)
        message_id = message.message_id
        over.add_done_callback(lambda _: self._make_room(message_id))

    def _beat_while_full(self) -> None:
        """Refresh this worker's heartbeat without a fetch: every call of Dramatiq's dispatch
        script does, and a requeue of no message changes nothing else."""
        now = time.monotonic()
        if now - self._last_beat < FULL_PREFETCH_BEAT_SECONDS:
            return
        try:
            self.broker.do_requeue(self.queue_name)
        except redis.ConnectionError as e:
            raise ConnectionClosed(e) from None
        self._last_beat = now

    def close(self) -> None:
        self._requeue_prefetched()
        if self._acks is not None:
            self._acks.close()
        super().close()

    def _requeue_prefetched(self) -> None:
        """Put back the messages fetched but not yet handed to a worker thread. Dramatiq puts
        back those its threads had not started, not these: they stayed held by the stopped
        worker until Redis found its heartbeat stale (15 s and more) and handed them out."""
        cached, self.message_cache = self.message_cache, []
        ids = [Message.decode(data).options["redis_message_id"] for data in cached if data]
        if ids:
            with contextlib.suppress(redis.RedisError):  # Redis away: it hands them out later
                self.broker.requeue_and_wake(self.queue_name, ids)


class WakingRedisBroker(RedisBroker):
    """Dramatiq's RedisBroker, with a wake-up token pushed beside every enqueue (in the same
    round trip), which an idle consumer waits for (``_WakingConsumer``)."""

    consumer_class = _WakingConsumer

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._plain_enqueue = self.do_enqueue
        self.do_enqueue = self._enqueue_and_wake
        self._ack_many = self.client.register_script(ACK_MANY)
        self.start_attempts: StartAttempts | None = None
        self.started_actors: frozenset[str] = frozenset()

    def start_directly(self, actor_names: Iterable[str], start: StartAttempts) -> None:
        """From a worker's boot, before its consumers run: they hand the messages of these
        actors to ``start`` themselves, instead of to Dramatiq's worker threads."""
        self.started_actors = frozenset(actor_names)
        self.start_attempts = start

    def _dispatch_args(self, command: str, queue_name: str, *args: Any) -> list[Any]:
        """The arguments of Dramatiq's dispatch script, as RedisBroker._dispatch passes them."""
        return [
            command,
            current_millis(),
            queue_name,
            self.broker_id,
            self.heartbeat_timeout,
            self.dead_message_ttl,
            self._should_do_maintenance(command),
            self._max_unpack_size(),
            *args,
        ]

    def _dispatch_many(self, calls: list[list[Any]], wake: Iterable[str] = ()) -> list[Any]:
        """Dramatiq's dispatch script once for each arguments of ``calls``, then a wake-up of
        each queue of ``wake``, in one round trip; the scripts' answers."""
        wake = list(wake)
        pipe = self.fill_pipeline(self.client.pipeline(transaction=False), calls, wake)
        try:
            return pipe.execute()[: len(calls)]
        except redis.exceptions.NoScriptError:
            pass  # Redis restarted (a script cache is not kept): load it, then the same one by one
        results = [self.scripts["dispatch"](keys=[self.namespace], args=args) for args in calls]
        self.wake(wake)
        return results

    def wake(self, queue_names: Iterable[str]) -> None:
        """A wake-up of each of ``queue_names``, in one round trip."""
        self.fill_pipeline(self.client.pipeline(transaction=False), [], queue_names).execute()

    def fill_pipeline(self, pipe: Any, calls: list[list[Any]], wake: Iterable[str]) -> Any:
        """``pipe`` (a blocking or an asyncio Redis pipeline) with the dispatch script once
        for each arguments of ``calls``, then a wake-up of each queue of ``wake``: a token
        pushed on its list, and the list cut to its newest WAKE_TOKENS_KEPT."""
        sha = self.scripts["dispatch"].sha
        for args in calls:
            pipe.evalsha(sha, 1, self.namespace, *args)
        for queue_name in wake:
            key = wake_list(self.namespace, queue_name)
            pipe.rpush(key, b"")
            pipe.ltrim(key, -WAKE_TOKENS_KEPT, -1)
        return pipe

    def requeue_and_wake(self, queue_name: str, message_ids: list[str]) -> None:
        """Put the messages of ``message_ids`` this worker holds back on their queue (Dramatiq's
        ``do_requeue``) and wake an idle consumer of the queue, in one round trip: they wait
        for a wake-up, not a timer, so without one the messages would wait up to their
        timeout."""
        self._dispatch_many(
            [self._dispatch_args("requeue", queue_name, *message_ids)], [queue_name]
        )

    def ack_many(self, queue_name: str, message_ids: list[str]) -> None:
        """Dramatiq's ``do_ack`` for each of ``message_ids``, in one script call."""
        self._ack_many(
            keys=[self.namespace], args=[current_millis(), queue_name, self.broker_id, *message_ids]
        )

    def _enqueue_and_wake(self, queue_name: str, message_id: str, data: bytes) -> Any:
        if _is_delay_queue(queue_name):
            return self._plain_enqueue(queue_name, message_id, data)
        return self._dispatch_all([(queue_name, message_id, data)])[0]

    def _dispatch_all(self, enqueues: list[_Enqueue]) -> list[Any]:
        """Every enqueue and the wake-up of each ready queue named, in one round trip."""
        return self._dispatch_many(*self.dispatch_plan(enqueues))

    def dispatch_plan(self, enqueues: list[_Enqueue]) -> tuple[list[list[Any]], list[str]]:
        """The dispatch script's arguments for each enqueue, and the ready queues to wake."""
        calls = [
            self._dispatch_args("enqueue", q, message_id, data) for q, message_id, data in enqueues
        ]
        woken = {q for q, _, _ in enqueues if not _is_delay_queue(q)}
        return calls, sorted(woken)

    def enqueue_many(self, sends: list[_Send]) -> None:
        """``enqueue(message, delay=...)`` for each of ``sends``, in one round trip to Redis
        (the middleware hooks run for each message as ``enqueue`` runs them)."""
        prepared = self.prepare_enqueues(sends)
        self._dispatch_all(enqueued(prepared))
        self.finish_enqueues(prepared)

    def prepare_enqueues(self, sends: list[_Send]) -> list[_Prepared]:
        """Each message as ``enqueue`` makes it (its Redis id; a delayed one's queue and eta),
        after the middleware's ``before_enqueue``: (queue name, message, delay)."""
        prepared: list[_Prepared] = []
        for message, delay in sends:
            queue_name = message.queue_name
            message = message.copy(options={"redis_message_id": str(uuid.uuid4())})
            if delay is not None:
                queue_name = dq_name(queue_name)
                message = message.copy(
                    queue_name=queue_name, options={"eta": current_millis() + delay}
                )
            self.emit_before("enqueue", message, delay)
            prepared.append((queue_name, message, delay))
        return prepared

    def finish_enqueues(self, prepared: list[_Prepared]) -> None:
        """The middleware's ``after_enqueue`` for each message sent."""
        for _, message, delay in prepared:
            self.emit_after("enqueue", message, delay)


def enqueued(prepared: list[_Prepared]) -> list[_Enqueue]:
    """(queue name, Redis message id, encoded message) of each prepared enqueue.

    msgspec encodes the message dataclass to the very bytes ``Message.encode`` gives with
    Dramatiq's default JSON encoder (field order, compact separators; our messages are
    ASCII), in a fourteenth of the time (0.34 against 4.8 us)."""
    return [(q, m.options["redis_message_id"], msgspec.json.encode(m)) for q, m, _ in prepared]


def build_broker(
    redis_url: str, middleware: Iterable[dramatiq.Middleware] | None = None
) -> WakingRedisBroker:
    client = redis.Redis.from_url(
        redis_url, socket_timeout=10.0, socket_connect_timeout=2.0, health_check_interval=30
    )
    return WakingRedisBroker(
        client=client,
        middleware=list(middleware) if middleware is not None else None,
        heartbeat_timeout=HEARTBEAT_TIMEOUT_MS,
        maintenance_chance=MAINTENANCE_CHANCE,
    )


def message_for(job: Job) -> dramatiq.Message:
    return dramatiq.Message(
        queue_name=job.queue,
        actor_name=actor_name_of(job.kind),
        args=(str(job.id),),
        kwargs={},
        options={},
    )


class DramatiqSender:
    """Sends job messages through the broker's dispatch script, on the caller's event loop.

    Sends that come while one is in flight go together in the next: one pipelined round
    trip to Redis for all of them, as the job store batches its writes (coalescer.py). A
    lone send goes at once. The messages and the script's arguments are the broker's own
    (``WakingRedisBroker.prepare_enqueues`` / ``dispatch_plan``), so Redis holds exactly
    what ``broker.enqueue`` would have put there; only the round trip is made with an
    asyncio client instead of a thread running the broker's blocking one (the hop and the
    two threads taking turns at the GIL cost a submitting process a sixth of its CPU per
    job: 0.33 -> 0.28 ms in bench.throughput). A batch that fails fails each of its
    senders, who leave the job to the relay (``send_quietly``).
    """

    def __init__(self, broker: WakingRedisBroker, client: aioredis.Redis) -> None:
        self._broker = broker
        self._client = client
        self._sends: Coalescer[_Send, None] = Coalescer(self._send_many, max_in_flight=1)

    @classmethod
    def from_url(cls, broker: WakingRedisBroker, redis_url: str) -> DramatiqSender:
        """No IO here: the client connects on first use, on the loop that uses it."""
        client = aioredis.Redis.from_url(
            redis_url, socket_timeout=10.0, socket_connect_timeout=2.0, health_check_interval=30
        )
        return cls(broker, client)

    async def send(self, job: Job, delay_seconds: float = 0.0) -> None:
        delay_ms = int(delay_seconds * 1000) if delay_seconds > 0 else None
        await self._sends.submit((message_for(job), delay_ms))

    async def close(self) -> None:
        await self._client.aclose()

    async def _send_many(self, sends: list[_Send]) -> list[None]:
        broker = self._broker
        prepared = broker.prepare_enqueues(sends)
        calls, woken = broker.dispatch_plan(enqueued(prepared))
        try:
            await self._dispatch(calls, woken)
        except redis.exceptions.NoScriptError:  # Redis restarted: a script cache is not kept
            await self._client.script_load(broker.scripts["dispatch"].script)
            await self._dispatch(calls, woken)
        broker.finish_enqueues(prepared)
        return [None] * len(sends)

    async def _dispatch(self, calls: list[list[Any]], woken: list[str]) -> None:
        pipe = self._client.pipeline(transaction=False)
        await self._broker.fill_pipeline(pipe, calls, woken).execute()
