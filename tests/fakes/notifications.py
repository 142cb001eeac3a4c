"""A mailer that keeps what it was handed (and refuses when told to), in-app notices in memory,
and a live channel that remembers what it announced. (E-mail rows, rendering and address
checks: tests/fakes/emails.py.)"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

import msgspec

from domain.clock import Clock
from domain.errors import JobFailure
from domain.notifications.inapp import Notice, NoticeKind, NoticePage, NoticeValue
from domain.notifications.ports import RenderedEmail
from tests.fakes.database import FakeDatabase


class FakeMailer:
    """Delivers into ``sent`` (message id, address); ``refuse`` makes the next deliveries fail."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.refuse: JobFailure | None = None

    async def deliver(self, *, to_address: str, message_id: str, email: RenderedEmail) -> str:
        if self.refuse is not None:
            raise self.refuse
        self.sent.append((message_id, to_address))
        return "fake"


class FakeNoticeRepository:
    """Notices in memory; event ids come from one counter, as the table's identity column."""

    def __init__(self, database: FakeDatabase, clock: Clock) -> None:
        self._notices: dict[uuid.UUID, Notice] = database.table("notices")
        self._preferences: dict[tuple[uuid.UUID, NoticeKind], bool] = database.table(
            "notice_preferences"
        )
        self._clock = clock

    async def add(
        self, user_id: uuid.UUID, kind: NoticeKind, data: dict[str, NoticeValue]
    ) -> Notice:
        seq = max((n.seq for n in self._notices.values()), default=0) + 1
        notice = Notice(
            id=uuid.uuid4(),
            seq=seq,
            user_id=user_id,
            kind=kind,
            data=dict(data),
            created_at=self._clock.now(),
        )
        self._notices[notice.id] = notice
        return notice

    def _mine(self, user_id: uuid.UUID) -> list[Notice]:
        return sorted(
            (n for n in self._notices.values() if n.user_id == user_id), key=lambda n: n.seq
        )

    async def page(
        self, user_id: uuid.UUID, *, unread_only: bool, limit: int, before_seq: int | None
    ) -> NoticePage:
        found = [
            n
            for n in reversed(self._mine(user_id))
            if (not unread_only or n.read_at is None) and (before_seq is None or n.seq < before_seq)
        ]
        more = len(found) > limit
        page = found[:limit]
        return NoticePage(notices=page, next_cursor=str(page[-1].seq) if more else None)

    async def after(self, user_id: uuid.UUID, seq: int, limit: int) -> list[Notice]:
        return [n for n in self._mine(user_id) if n.seq > seq][:limit]

    async def unread(self, user_id: uuid.UUID) -> int:
        return sum(1 for n in self._mine(user_id) if n.read_at is None)

    async def latest_seq(self, user_id: uuid.UUID) -> int:
        return max((n.seq for n in self._mine(user_id)), default=0)

    async def mark_read(
        self, user_id: uuid.UUID, notice_id: uuid.UUID, at: datetime
    ) -> Notice | None:
        notice = self._notices.get(notice_id)
        if notice is None or notice.user_id != user_id:
            return None
        read = msgspec.structs.replace(notice, read_at=notice.read_at or at)
        self._notices[notice_id] = read
        return read

    async def mark_all_read(self, user_id: uuid.UUID, at: datetime) -> int:
        unread = [n for n in self._mine(user_id) if n.read_at is None]
        for notice in unread:
            self._notices[notice.id] = msgspec.structs.replace(notice, read_at=at)
        return len(unread)

    async def preferences(self, user_id: uuid.UUID) -> dict[NoticeKind, bool]:
        return {kind: email for (user, kind), email in self._preferences.items() if user == user_id}

    async def set_preferences(self, user_id: uuid.UUID, choices: dict[NoticeKind, bool]) -> None:
        for kind, email in choices.items():
            self._preferences[(user_id, kind)] = email


class FakeLiveChannel:
    """What was announced, per user; ``listen`` replays it to a test, as Redis would live."""

    def __init__(self) -> None:
        self.announced: list[tuple[uuid.UUID, int]] = []

    async def announce(self, user_id: uuid.UUID, seq: int) -> None:
        self.announced.append((user_id, seq))

    @asynccontextmanager
    async def listen(self, user_id: uuid.UUID) -> AsyncIterator[AsyncIterator[int]]:
        async def events() -> AsyncIterator[int]:
            for user, seq in list(self.announced):
                if user == user_id:
                    yield seq

        yield events()

    async def close(self) -> None:
        return None
