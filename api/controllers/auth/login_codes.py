"""Signing in with an e-mailed code: ``POST /auth/code/request`` and ``/auth/code/verify``.

Both are public and rate limited per address; asking for a code is also capped per
address, and every guess spends the account's budget (domain/accounts/login.py).
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
    EmailBody,
    EmailField,
    EmailSentRead,
    SignInRead,
    route_opt,
)
from api.problems import api_responses
from api.state import UseCases
from domain.accounts import login
from domain.accounts.emailed_secrets import request_emailed_secret
from domain.rate_limits import (
    ACCOUNT_FAILURE_LIMIT,
    ACCOUNT_FAILURE_WINDOW_SECONDS,
    LOGIN_CODE_LIMIT,
)


class CodeLoginBody(Body):
    email: EmailField
    code: CodeField


class LoginCodesController(AuthResource):
    @post(
        "/code/request",
        operation_id="requestLoginCode",
        summary="E-mail a 6-digit sign-in code (valid 5 minutes); 202 whatever the address",
        description=(
            f"At most {LOGIN_CODE_LIMIT} codes per address per hour, from whatever client "
            "addresses: then 429 with Retry-After, whether or not the address has an account."
        ),
        status_code=202,
        responses=api_responses(400, 413, 422, token=False),
        opt=route_opt("public.login_code_request", auth_rate=True),
        security=NO_TOKEN,
    )
    async def request_login_code(
        self, data: JSONBody[EmailBody], audit_context: AuditContextDep, cases: UseCases
    ) -> EmailSentRead:
        await cases.run(request_emailed_secret, audit_context, login.LOGIN_CODE, data.email)
        return EmailSentRead()

    @post(
        "/code/verify",
        operation_id="verifyLoginCode",
        summary="Sign in with the e-mailed code: tokens, or an MFA challenge",
        description=(
            "A code allows 5 wrong tries; then it is dead and a new one is needed. An account "
            f"allows {ACCOUNT_FAILURE_LIMIT} wrong guesses (password, code, TOTP or recovery "
            f"code) per {ACCOUNT_FAILURE_WINDOW_SECONDS // 60} minutes, from whatever client "
            "addresses: then 429 with Retry-After, known address or not."
        ),
        status_code=200,
        responses=api_responses(400, 401, 403, 413, token=False),
        opt=route_opt("public.login_code_verify", auth_rate=True),
        security=NO_TOKEN,
    )
    async def verify_login_code(
        self,
        data: JSONBody[CodeLoginBody],
        audit_context: AuditContextDep,
        cases: UseCases,
        state: State,
        request: Request[Any, Any, Any],
    ) -> Response[SignInRead]:
        result = await cases.run(login.login_with_code, audit_context, data.email, data.code)
        return signed_in(request, state.settings, result)
