"""Forgotten passwords: ``POST /auth/password-reset/request`` and ``/confirm``.

Both are public and rate limited per address; the request answers 202 whatever the
address, and confirming ends every session (domain/accounts/password_reset.py).
"""

from __future__ import annotations

from litestar import post
from litestar.params import JSONBody

from api.audit_context import AuditContextDep
from api.controllers.auth.common import (
    NO_TOKEN,
    AuthResource,
    Body,
    EmailBody,
    EmailSentRead,
    PasswordField,
    Secret,
    route_opt,
)
from api.problems import api_responses
from api.state import UseCases
from domain.accounts import password_reset
from domain.accounts.emailed_secrets import request_emailed_secret


class ResetConfirmBody(Body):
    token: Secret
    password: PasswordField


class PasswordResetController(AuthResource):
    @post(
        "/password-reset/request",
        operation_id="requestPasswordReset",
        summary="E-mail a password reset link; 202 whatever the address",
        status_code=202,
        responses=api_responses(400, 413, 422, token=False),
        opt=route_opt("public.password_reset_request", auth_rate=True),
        security=NO_TOKEN,
    )
    async def request_password_reset(
        self, data: JSONBody[EmailBody], audit_context: AuditContextDep, cases: UseCases
    ) -> EmailSentRead:
        await cases.run(
            request_emailed_secret, audit_context, password_reset.RESET_LINK, data.email
        )
        return EmailSentRead()

    @post(
        "/password-reset/confirm",
        operation_id="confirmPasswordReset",
        summary="Choose a new password with the link's token; every session ends",
        status_code=204,
        responses=api_responses(400, 401, 413, 422, token=False),
        opt=route_opt("public.password_reset_confirm", auth_rate=True),
        security=NO_TOKEN,
    )
    async def confirm_password_reset(
        self, data: JSONBody[ResetConfirmBody], audit_context: AuditContextDep, cases: UseCases
    ) -> None:
        await cases.run(password_reset.reset_password, audit_context, data.token, data.password)
