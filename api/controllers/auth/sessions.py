"""Sessions: signing in with a password, the MFA step, refreshing, and signing out.

``POST /auth/login``, ``/auth/mfa`` and ``/auth/refresh`` are public and rate limited per
address (the sign-in also spends the account's budget); ``POST /auth/logout`` acts on the
caller's own sessions (``auth.logout``).
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post
from litestar.datastructures import State
from litestar.params import JSONBody

from api.audit_context import AuditContextDep
from api.controllers.auth.browser import signed_in
from api.controllers.auth.common import (
    NO_TOKEN,
    AuthResource,
    Body,
    CodeField,
    EmailField,
    PasswordField,
    Secret,
    SignInRead,
    route_opt,
)
from api.policy_guard import AccessDep
from api.problems import api_responses
from api.state import UseCases
from domain.accounts import login, sessions


class LoginBody(Body):
    email: EmailField
    password: PasswordField


class MfaBody(Body, kw_only=True):
    mfa_token: Secret
    code: CodeField | None = None
    recovery_code: CodeField | None = None


class RefreshBody(Body):
    refresh_token: Secret


class LogoutBody(Body, kw_only=True):
    refresh_token: Secret | None = None
    everywhere: bool = False


class SessionsController(AuthResource):
    @post(
        "/login",
        operation_id="logIn",
        summary="Sign in with e-mail and password: tokens, or an MFA challenge",
        status_code=200,
        responses=api_responses(400, 401, 403, 413, token=False),
        opt=route_opt("public.login", auth_rate=True),
        security=NO_TOKEN,
    )
    async def log_in(
        self,
        data: JSONBody[LoginBody],
        audit_context: AuditContextDep,
        cases: UseCases,
        state: State,
        request: Request[Any, Any, Any],
    ) -> Response[SignInRead]:
        result = await cases.run(
            login.login_with_password, audit_context, data.email, data.password
        )
        return signed_in(request, state.settings, result)

    @post(
        "/mfa",
        operation_id="completeMfa",
        summary="Finish a sign-in with the MFA token and a TOTP code or a recovery code",
        status_code=200,
        responses=api_responses(400, 401, 413, 422, token=False),
        opt=route_opt("public.mfa", auth_rate=True),
        security=NO_TOKEN,
    )
    async def complete_mfa(
        self,
        data: JSONBody[MfaBody],
        audit_context: AuditContextDep,
        cases: UseCases,
        state: State,
        request: Request[Any, Any, Any],
    ) -> Response[SignInRead]:
        factor = login.SecondFactor(code=data.code, recovery_code=data.recovery_code)
        result = await cases.run(login.complete_mfa, audit_context, data.mfa_token, factor)
        return signed_in(request, state.settings, result)

    @post(
        "/refresh",
        operation_id="refreshSession",
        summary="Trade a refresh token for new tokens (the old one stops working)",
        description="Presenting a refresh token a second time revokes its whole session: 401.",
        status_code=200,
        responses=api_responses(400, 401, 413, token=False),
        opt=route_opt("public.refresh", auth_rate=True),
        security=NO_TOKEN,
    )
    async def refresh(
        self,
        data: JSONBody[RefreshBody],
        audit_context: AuditContextDep,
        cases: UseCases,
        state: State,
        request: Request[Any, Any, Any],
    ) -> Response[SignInRead]:
        result = await cases.run(sessions.refresh_session, audit_context, data.refresh_token)
        return signed_in(request, state.settings, result)

    @post(
        "/logout",
        operation_id="logOut",
        summary="End the session of the given refresh token, or every session (everywhere)",
        status_code=204,
        responses=api_responses(400, 404, 413, 422),
        opt=route_opt("auth.logout"),
    )
    async def log_out(
        self,
        data: JSONBody[LogoutBody],
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> None:
        await cases.run(
            sessions.end_session, access, audit_context, data.refresh_token, data.everywhere
        )
