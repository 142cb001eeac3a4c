"""The caller's own account: ``GET /me`` and ``PATCH /me`` (name, phone).

Policies ``account.read`` and ``account.update``: any signed-in caller, on
their own account only, so there is no target to check. The read opens the
sealed phone and date of birth and is audited like any read of patient data.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, get, patch
from litestar.params import JSONBody

from api.audit_context import AuditContextDep
from api.policy_guard import AccessDep
from api.problems import api_responses
from api.state import UseCases
from domain.accounts.my_account import AccountChanges, AccountView, read_account, update_account


class AccountUpdate(msgspec.Struct, frozen=True, rename="camel", forbid_unknown_fields=True):
    """Only the fields present change; a ``null`` phone removes it."""

    name: Annotated[str, msgspec.Meta(max_length=1024)] | msgspec.UnsetType = msgspec.UNSET
    phone: Annotated[str, msgspec.Meta(max_length=64)] | msgspec.UnsetType | None = msgspec.UNSET


class AccountController(Controller):
    path = "/me"
    tags = ["account"]

    @get(
        "/",
        operation_id="getMyAccount",
        summary="Your account and profile; audited",
        responses=api_responses(404),
        opt={"policy": "account.read"},
    )
    async def get_account(
        self, access: AccessDep, audit_context: AuditContextDep, cases: UseCases
    ) -> AccountView:
        return await cases.run(read_account, access, audit_context)

    @patch(
        "/",
        operation_id="updateMyAccount",
        summary="Change your name or phone",
        responses=api_responses(400, 404, 413, 422),
        opt={"policy": "account.update"},
    )
    async def update_account(
        self,
        data: JSONBody[AccountUpdate],
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> AccountView:
        changes = AccountChanges(name=data.name, phone=data.phone)
        return await cases.run(update_account, access, audit_context, changes)
