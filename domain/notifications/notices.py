"""In-app notices as use cases: notify (in the caller's transaction), announce (after it),
and what a user does with their own notices: list, count, read, choose what goes by e-mail.

A notice is its user's alone: anyone else's id answers 404, like a missing one.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

import structlog

from domain.clock import Clock
from domain.errors import NotFound
from domain.notifications.inapp import (
    Notice,
    NoticeKind,
    NoticePage,
    NoticeValue,
    Preference,
    check_data,
    email_wanted,
)
from domain.notifications.ports import LiveChannel, UnitOfWork
from domain.policies import Access, owner_relations, user_uuid
from domain.transactions import UnitOfWorkFactory

log = structlog.get_logger(__name__)


async def notify(
    uow: UnitOfWork, user_id: uuid.UUID, kind: NoticeKind, data: dict[str, NoticeValue]
) -> Notice:
    """Store a notice for ``user_id`` in ``uow``. The caller announces it after its commit
    (``announce``); if the notice has an e-mail twin, ``wants_email`` says whether to
    enqueue it in the same transaction."""
    return await uow.notices.add(user_id, kind, check_data(data))


async def wants_email(uow: UnitOfWork, user_id: uuid.UUID, kind: NoticeKind) -> bool:
    return email_wanted(await uow.notices.preferences(user_id), kind)


async def announce(live: LiveChannel, notices: Iterable[Notice]) -> None:
    """After the commit: tell live clients. Best effort: a client that missed it catches up."""
    for notice in notices:
        try:
            await live.announce(notice.user_id, notice.seq)
        except Exception as exc:  # the store has it; the next connect or poll finds it
            log.warning("notice_announce_failed", error_type=type(exc).__name__)


def _caller(access: Access) -> uuid.UUID:
    access.authorize(())  # the role rule: these act on the caller's own notices only
    caller = user_uuid(access.principal)
    if caller is None:  # an operator's token names no account, so it has no notices
        raise NotFound("notice not found")
    return caller


async def list_notices(
    access: Access,
    unread_only: bool,
    limit: int,
    before_seq: int | None,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
) -> NoticePage:
    """The caller's notices, newest first."""
    caller = _caller(access)
    async with uow_factory(autocommit=True) as uow:
        return await uow.notices.page(
            caller, unread_only=unread_only, limit=limit, before_seq=before_seq
        )


async def unread_count(access: Access, *, uow_factory: UnitOfWorkFactory[UnitOfWork]) -> int:
    caller = _caller(access)
    async with uow_factory(autocommit=True) as uow:
        return await uow.notices.unread(caller)


async def mark_read(
    access: Access,
    notice_id: uuid.UUID,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
) -> Notice:
    caller = user_uuid(access.principal)
    async with uow_factory(autocommit=True) as uow:  # one UPDATE
        read = await uow.notices.mark_read(caller, notice_id, clock.now()) if caller else None
    access.authorize(owner_relations(access.principal, str(read.user_id) if read else None))
    if read is None:  # unreachable: nobody owns a notice that was not found
        raise NotFound("notice not found")
    return read


async def mark_all_read(
    access: Access, *, uow_factory: UnitOfWorkFactory[UnitOfWork], clock: Clock
) -> int:
    caller = _caller(access)
    async with uow_factory(autocommit=True) as uow:  # one UPDATE
        return await uow.notices.mark_all_read(caller, clock.now())


async def preferences(
    access: Access, *, uow_factory: UnitOfWorkFactory[UnitOfWork]
) -> list[Preference]:
    """Every kind, with whether the caller also wants it by e-mail."""
    caller = _caller(access)
    async with uow_factory(autocommit=True) as uow:
        chosen = await uow.notices.preferences(caller)
    return [Preference(kind=kind, email=email_wanted(chosen, kind)) for kind in NoticeKind]


async def set_preferences(
    access: Access,
    choices: list[Preference],
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
) -> list[Preference]:
    caller = _caller(access)
    async with uow_factory() as uow:
        await uow.notices.set_preferences(caller, {p.kind: p.email for p in choices})
        chosen = await uow.notices.preferences(caller)
    return [Preference(kind=kind, email=email_wanted(chosen, kind)) for kind in NoticeKind]


async def catch_up(
    user_id: uuid.UUID,
    after_seq: int,
    limit: int,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
) -> list[Notice]:
    """What a live client missed since ``after_seq`` (the caller is the connection's user)."""
    async with uow_factory(autocommit=True) as uow:
        return await uow.notices.after(user_id, after_seq, limit)


async def latest_event_id(user_id: uuid.UUID, *, uow_factory: UnitOfWorkFactory[UnitOfWork]) -> int:
    """The newest event id the user has (0 for none): where a new live client starts."""
    async with uow_factory(autocommit=True) as uow:
        return await uow.notices.latest_seq(user_id)
