"""The audit trail's rules: what an event records, and how events chain.

An event names who did what to which resource, with what outcome, from
where, and which fields changed - never the values, which may be PHI. Each
event's hash covers its fields and the previous event's hash, so any change
to a stored event, or a deleted one, breaks the chain from there on."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterable, Iterable
from datetime import UTC, datetime

import msgspec

from domain.auditing import AuditContext, AuditEntry, Outcome

GENESIS_HASH = bytes(32)
_SEQ_ZERO = b"[0"  # how the hashed array of an event with seq 0 begins


class AuditRecord(msgspec.Struct, frozen=True, kw_only=True):
    """An event as stored: the entry, its context, its place and its link in the chain."""

    seq: int
    at: datetime
    actor_id: str | None
    actor_role: str | None
    action: str
    resource_type: str
    resource_id: str | None
    outcome: Outcome
    status_code: int | None
    ip: str | None
    user_agent: str | None
    request_id: str | None
    changed_fields: tuple[str, ...]
    prev_hash: bytes
    hash: bytes


class _Hashed(msgspec.Struct, array_like=True):
    """The hashed form: fixed field order, so the digest never depends on a dict's order."""

    seq: int
    at: str
    actor_id: str | None
    actor_role: str | None
    action: str
    resource_type: str
    resource_id: str | None
    outcome: str
    status_code: int | None
    ip: str | None
    user_agent: str | None
    request_id: str | None
    changed_fields: tuple[str, ...]


def event_tail(*, at: datetime, context: AuditContext, entry: AuditEntry) -> bytes:
    """The hashed JSON array of an event without its opening ``[seq``: what is known before
    the event has its place in the chain (the append gives it its seq, in PostgreSQL)."""
    body = _Hashed(
        seq=0,
        at=at.astimezone(UTC).isoformat(timespec="microseconds"),
        actor_id=context.actor_id,
        actor_role=context.actor_role,
        action=entry.action,
        resource_type=entry.resource_type,
        resource_id=entry.resource_id,
        outcome=entry.outcome.value,
        status_code=entry.status_code,
        ip=context.ip,
        user_agent=context.user_agent,
        request_id=context.request_id,
        changed_fields=tuple(entry.changed_fields),
    )
    return msgspec.json.encode(body)[len(_SEQ_ZERO) :]


def event_hash(
    prev_hash: bytes,
    *,
    seq: int,
    at: datetime,
    context: AuditContext,
    entry: AuditEntry,
) -> bytes:
    """SHA-256 of the previous hash and the event's JSON array (``[seq,"at",...]``); the
    chaining computes the same in SQL (``audit_chain_pending``, migrations 0805 and 0806)
    from the ``event_tail`` the writer stored in ``audit_pending``."""
    tail = event_tail(at=at, context=context, entry=entry)
    return hashlib.sha256(prev_hash + b"[" + str(seq).encode() + tail).digest()


def record_hash(record: AuditRecord) -> bytes:
    """Recompute a stored record's hash from its own fields."""
    context = AuditContext(
        actor_id=record.actor_id,
        actor_role=record.actor_role,
        ip=record.ip,
        user_agent=record.user_agent,
        request_id=record.request_id,
    )
    entry = AuditEntry(
        action=record.action,
        resource_type=record.resource_type,
        resource_id=record.resource_id,
        outcome=record.outcome,
        status_code=record.status_code,
        changed_fields=record.changed_fields,
    )
    return event_hash(record.prev_hash, seq=record.seq, at=record.at, context=context, entry=entry)


class ChainBreak(msgspec.Struct, frozen=True):
    """The first link that does not hold, and why."""

    seq: int
    reason: str


def first_break(
    records: Iterable[AuditRecord], expected_prev: bytes = GENESIS_HASH
) -> tuple[ChainBreak | None, bytes, int]:
    """Walk records in seq order; returns (first break or None, last hash, records checked).

    The last hash lets a caller verify a long chain page by page.
    """
    checked = 0
    for record in records:
        if record.prev_hash != expected_prev:
            return (
                ChainBreak(record.seq, "prev_hash does not match the previous event"),
                b"",
                checked,
            )
        if record_hash(record) != record.hash:
            return (
                ChainBreak(record.seq, "the event's content does not match its hash"),
                b"",
                checked,
            )
        expected_prev = record.hash
        checked += 1
    return None, expected_prev, checked


class ChainReport(msgspec.Struct, frozen=True, kw_only=True):
    """The outcome of checking the whole chain: ``checked`` links held before any break."""

    valid: bool
    checked: int
    first_broken: ChainBreak | None = None


class ChainHead(msgspec.Struct, frozen=True):
    """The newest link as the chaining keeps it beside the trail: its seq (None while the
    trail is empty) and its hash."""

    seq: int | None
    hash: bytes


def head_break(head: ChainHead, hash_seen: bytes | None) -> ChainBreak | None:
    """Whether the walked chain still reaches ``head`` (read before the walk): the event at
    its seq was there (``hash_seen``) with the hash the chaining gave it. Events cut off the
    end of the trail, or events rewritten with their hashes made anew, leave a chain that
    holds link by link; only the head shows them."""
    if head.seq is None:
        return None
    if hash_seen is None:
        return ChainBreak(head.seq, "the chain's newest link is missing: its end was removed")
    if hash_seen != head.hash:
        return ChainBreak(head.seq, "the event's hash is not the one the chain's head keeps")
    return None


async def verify_chain(
    pages: AsyncIterable[Iterable[AuditRecord]], head: ChainHead | None = None
) -> ChainReport:
    """Check a chain delivered page by page (in seq order), carrying the last hash across pages,
    and, given its ``head`` read before the walk, that it still reaches that newest link.

    Pages keep memory flat however long the trail grows; the walk stops at the first break.
    """
    expected, checked = GENESIS_HASH, 0
    hash_at_head: bytes | None = None
    async for page in pages:
        broken, expected, held = first_break(page, expected)
        checked += held
        if broken is not None:
            return ChainReport(valid=False, checked=checked, first_broken=broken)
        if head is not None:
            hash_at_head = next((r.hash for r in page if r.seq == head.seq), hash_at_head)
    if head is not None and (broken := head_break(head, hash_at_head)) is not None:
        return ChainReport(valid=False, checked=checked, first_broken=broken)
    return ChainReport(valid=True, checked=checked)


class AuditQuery(msgspec.Struct, frozen=True, kw_only=True):
    """Which events to list; every filter is exact, ``since`` inclusive, ``until`` exclusive."""

    actor_id: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class AuditPage(msgspec.Struct, frozen=True):
    """Events in chain (seq) order; ``next_cursor`` resumes after the last one, None at the end."""

    records: list[AuditRecord]
    next_cursor: str | None
