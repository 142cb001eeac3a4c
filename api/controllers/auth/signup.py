"""Sign-up and e-mail verification: ``POST /auth/signup``, ``POST /auth/verify-email``.

Both are public (``public.*``) and rate limited per address. A sign-up answers
the same whether or not the address was registered (domain/accounts/signup.py).
"""

from __future__ import annotations

import uuid

import msgspec
from litestar import post
from litestar.params import JSONBody

from api.audit_context import AuditContextDep
from api.controllers.auth.common import NO_TOKEN, AuthResource, Body, Secret, route_opt
from api.problems import api_responses
from api.state import UseCases
from domain.accounts import signup
from domain.accounts.model import AccountStatus, Signup


class VerifyEmailBody(Body):
    token: Secret


class AccountStatusRead(msgspec.Struct, frozen=True, rename="camel"):
    user_id: uuid.UUID
    status: AccountStatus


class SignUpController(AuthResource):
    @post(
        "/signup",
        operation_id="signUp",
        summary="Create a patient or doctor account (pending until the e-mail is verified)",
        description=(
            "`role` is `patient` or `doctor`. Answers 201 whether or not the address was "
            "already registered (its owner is e-mailed instead), so it reveals no accounts."
        ),
        status_code=201,
        responses=api_responses(400, 413, 422, token=False),
        opt=route_opt("public.signup", auth_rate=True),
        security=NO_TOKEN,
    )
    async def sign_up(
        self, data: JSONBody[Signup], audit_context: AuditContextDep, cases: UseCases
    ) -> AccountStatusRead:
        created = await cases.run(signup.signup, audit_context, data)
        return AccountStatusRead(user_id=created.user_id, status=created.status)

    @post(
        "/verify-email",
        operation_id="verifyEmail",
        summary="Use the e-mailed verification link's token: the account becomes active",
        status_code=200,
        responses=api_responses(400, 401, 413, 422, token=False),
        opt=route_opt("public.verify_email", auth_rate=True),
        security=NO_TOKEN,
    )
    async def verify_email(
        self, data: JSONBody[VerifyEmailBody], audit_context: AuditContextDep, cases: UseCases
    ) -> AccountStatusRead:
        verified = await cases.run(signup.verify_email, audit_context, data.token)
        return AccountStatusRead(user_id=verified.user_id, status=verified.status)
