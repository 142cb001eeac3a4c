"""The caller's in-app notices: list, unread count, mark read, e-mail preferences.

Their live delivery is a WebSocket (api/notice_stream.py). A notice is its
user's alone; another user's id answers 404, exactly like a missing one.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Controller, get, post, put
from litestar.params import FromPath, JSONBody, QueryParameter

from api.policy_guard import AccessDep
from api.problems import api_responses
from api.state import UseCases
from domain.notifications import notices
from domain.notifications.inapp import Notice, NoticeKind, NoticeValue, Preference

# A page's cursor is the last event id it showed: digits only.
NoticeCursor = Annotated[
    str | None,
    QueryParameter(pattern=r"^[1-9][0-9]{0,17}$", description="nextCursor of the previous page"),
]


class NoticeRead(msgspec.Struct, frozen=True, rename="camel"):
    id: uuid.UUID
    event_id: int
    type: NoticeKind
    data: dict[str, NoticeValue]
    created_at: datetime
    read_at: datetime | None

    @classmethod
    def of(cls, notice: Notice) -> NoticeRead:
        return cls(
            id=notice.id,
            event_id=notice.seq,
            type=notice.kind,
            data=notice.data,
            created_at=notice.created_at,
            read_at=notice.read_at,
        )


class NoticeList(msgspec.Struct, frozen=True, rename="camel"):
    items: list[NoticeRead]
    next_cursor: str | None


class UnreadCount(msgspec.Struct, frozen=True):
    unread: int


class MarkedRead(msgspec.Struct, frozen=True):
    marked: int


class PreferenceBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    kind: NoticeKind
    email: bool


class PreferencesBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    preferences: Annotated[list[PreferenceBody], msgspec.Meta(min_length=1, max_length=20)]


class PreferencesRead(msgspec.Struct, frozen=True):
    preferences: list[PreferenceBody]

    @classmethod
    def of(cls, chosen: list[Preference]) -> PreferencesRead:
        return cls([PreferenceBody(kind=p.kind, email=p.email) for p in chosen])


class NoticesController(Controller):
    path = "/notifications"
    tags = ["notifications"]

    @get(
        "/",
        operation_id="listNotifications",
        summary="Your in-app notifications, newest first",
        responses=api_responses(400, 422),
        opt={"policy": "notice.list"},
    )
    async def list_notices(
        self,
        access: AccessDep,
        cases: UseCases,
        unread: Annotated[bool, QueryParameter(description="only those not read yet")] = False,
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
        cursor: NoticeCursor = None,
    ) -> NoticeList:
        before = int(cursor) if cursor else None
        page = await cases.run(notices.list_notices, access, unread, limit, before)
        return NoticeList(
            items=[NoticeRead.of(notice) for notice in page.notices], next_cursor=page.next_cursor
        )

    @get(
        "/unread-count",
        operation_id="countUnreadNotifications",
        summary="How many of your notifications are unread",
        responses=api_responses(),
        opt={"policy": "notice.list"},
    )
    async def unread_count(self, access: AccessDep, cases: UseCases) -> UnreadCount:
        return UnreadCount(unread=await cases.run(notices.unread_count, access))

    @post(
        "/{notice_id:uuid}/read",
        operation_id="markNotificationRead",
        summary="Mark one of your notifications read",
        status_code=200,
        responses=api_responses(400, 404),
        opt={"policy": "notice.read"},
    )
    async def mark_read(
        self, notice_id: FromPath[uuid.UUID], access: AccessDep, cases: UseCases
    ) -> NoticeRead:
        return NoticeRead.of(await cases.run(notices.mark_read, access, notice_id))

    @post(
        "/read-all",
        operation_id="markAllNotificationsRead",
        summary="Mark every one of your notifications read",
        status_code=200,
        responses=api_responses(),
        opt={"policy": "notice.list"},
    )
    async def mark_all_read(self, access: AccessDep, cases: UseCases) -> MarkedRead:
        return MarkedRead(marked=await cases.run(notices.mark_all_read, access))

    @get(
        "/preferences",
        operation_id="getNotificationPreferences",
        summary="Which kinds of notification you also receive by e-mail",
        responses=api_responses(),
        opt={"policy": "notice.preferences"},
    )
    async def preferences(self, access: AccessDep, cases: UseCases) -> PreferencesRead:
        return PreferencesRead.of(await cases.run(notices.preferences, access))

    @put(
        "/preferences",
        operation_id="setNotificationPreferences",
        summary="Choose which kinds of notification also come by e-mail",
        responses=api_responses(400, 413, 422),
        opt={"policy": "notice.preferences"},
    )
    async def set_preferences(
        self, data: JSONBody[PreferencesBody], access: AccessDep, cases: UseCases
    ) -> PreferencesRead:
        choices = [Preference(kind=p.kind, email=p.email) for p in data.preferences]
        return PreferencesRead.of(await cases.run(notices.set_preferences, access, choices))
