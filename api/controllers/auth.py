"""Signing up and signing in: accounts, sessions, e-mailed links and codes, and TOTP.

The routes that take a credential are public (policy ``public.*``) and rate
limited per address (``rate_limit: "auth"``); the sign-in services also
spend per-account budgets (domain/sign_in_budget.py), refused here with the
rate-limit middleware's own 429 and 503. Logout and the TOTP routes act on
the caller's own account. The access token is minted here, from what the
domain services return, with the API's one token format (api/tokens.py).
Token answers are never cached (``Cache-Control: no-store``, RFC 6749 5.1).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, post
from litestar.datastructures import CacheControlHeader
from litestar.params import JSONBody
from litestar.types import ExceptionHandlersMap

from api.audit_context import AuditContextDep
from api.auth import TOKEN_SCOPES_OPT, Caller
from api.middleware.rate_limit import limiter_unavailable, too_many_requests
from api.problems import api_responses
from api.state import AppServices
from api.tokens import mint_token
from domain.accounts import login, password_reset, sessions, signup
from domain.accounts import totp as totp_enrolment
from domain.accounts.model import AccountStatus, Signup
from domain.accounts.sign_in_budget import BudgetUnavailable, TooManyAttempts
from domain.errors import NotFound
from domain.identity import MFA_ENROLMENT_SCOPE, Principal, Role
from domain.policies import user_uuid
from domain.rate_limits import (
    ACCOUNT_FAILURE_LIMIT,
    ACCOUNT_FAILURE_WINDOW_SECONDS,
    LOGIN_CODE_LIMIT,
)
from domain.settings import Settings

# Transport bounds only: a body cannot be absurd. The rules answer 422 or 401.
Secret = Annotated[str, msgspec.Meta(min_length=1, max_length=512)]
EmailField = Annotated[str, msgspec.Meta(min_length=1, max_length=320)]
PasswordField = Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]
CodeField = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]

AUTH_RATE = {"rate_limit": "auth"}


class _Body(msgspec.Struct, frozen=True, rename="camel", forbid_unknown_fields=True):
    pass


class VerifyEmailBody(_Body):
    token: Secret


class LoginBody(_Body):
    email: EmailField
    password: PasswordField


class MfaBody(_Body, kw_only=True):
    mfa_token: Secret
    code: CodeField | None = None
    recovery_code: CodeField | None = None


class RefreshBody(_Body):
    refresh_token: Secret


class LogoutBody(_Body, kw_only=True):
    refresh_token: Secret | None = None
    everywhere: bool = False


class EmailBody(_Body):
    email: EmailField


class ResetConfirmBody(_Body):
    token: Secret
    password: PasswordField


class CodeLoginBody(_Body):
    email: EmailField
    code: CodeField


class TotpCodeBody(_Body):
    code: CodeField


class PasswordBody(_Body):
    password: PasswordField


class AccountStatusRead(msgspec.Struct, frozen=True, rename="camel"):
    user_id: uuid.UUID
    status: AccountStatus


class SignInRead(msgspec.Struct, frozen=True, rename="camel", omit_defaults=True, kw_only=True):
    """Tokens, or ``mfaRequired: true`` with the ``mfaToken`` for POST /auth/mfa.

    An admin without TOTP gets ``scope: "mfa_enrolment"``, no refresh token,
    and an access token that opens only the TOTP setup routes.
    """

    mfa_required: bool
    mfa_token: str | None = None
    mfa_expires_at: datetime | None = None
    user_id: uuid.UUID | None = None
    role: Role | None = None
    token_type: str | None = None
    access_token: str | None = None
    expires_in: int | None = None
    scope: str | None = None
    refresh_token: str | None = None
    refresh_expires_at: datetime | None = None


class EmailSentRead(msgspec.Struct, frozen=True, rename="camel"):
    """The same answer whether or not the address has an account."""

    message: str = "if an active account uses this address, an e-mail is on its way"


class TotpSetupRead(msgspec.Struct, frozen=True, rename="camel"):
    secret: str
    provisioning_uri: str
    qr_code: str


class RecoveryCodesRead(msgspec.Struct, frozen=True, rename="camel"):
    recovery_codes: list[str]


def sign_in_read(settings: Settings, result: sessions.SignIn) -> SignInRead:
    if isinstance(result, sessions.MfaRequired):
        return SignInRead(
            mfa_required=True, mfa_token=result.mfa_token, mfa_expires_at=result.expires_at
        )
    ttl = settings.access_token_ttl_seconds
    scope = result.scope if isinstance(result, sessions.EnrolmentOnly) else None
    access = mint_token(settings.jwt_secret, str(result.user_id), result.role, ttl, scope=scope)
    read = SignInRead(
        mfa_required=False,
        user_id=result.user_id,
        role=result.role,
        token_type="Bearer",
        access_token=access,
        expires_in=ttl,
        scope=scope,
    )
    if isinstance(result, sessions.SessionStarted):
        read = msgspec.structs.replace(
            read,
            refresh_token=result.refresh_token,
            refresh_expires_at=result.refresh_expires_at,
        )
    return read


def account_id(principal: Principal) -> uuid.UUID:
    """The caller's account; a token whose subject is no account (an old operator's) has none."""
    found = user_uuid(principal)
    if found is None:
        raise NotFound("account not found")
    return found


def _opt(policy: str, *, auth_rate: bool = False, **extra: object) -> dict[str, object]:
    return {"policy": policy, **(AUTH_RATE if auth_rate else {}), **extra}


def _account_budget_spent(request: Request[Any, Any, Any], exc: TooManyAttempts) -> Response[Any]:
    return too_many_requests(request.scope, exc.decision)


def _account_budget_unavailable(
    request: Request[Any, Any, Any], exc: BudgetUnavailable
) -> Response[Any]:
    return limiter_unavailable()


BUDGET_REFUSALS: ExceptionHandlersMap = {
    TooManyAttempts: _account_budget_spent,
    BudgetUnavailable: _account_budget_unavailable,
}
ENROLMENT_OK = {TOKEN_SCOPES_OPT: (MFA_ENROLMENT_SCOPE,)}
# The router asks for a bearer token; an empty requirement beside it makes one optional.
NO_TOKEN: list[dict[str, list[str]]] = [{}]


class AuthController(Controller):
    path = "/auth"
    tags = ["auth"]
    cache_control = CacheControlHeader(no_store=True)
    exception_handlers = BUDGET_REFUSALS

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
        opt=_opt("public.signup", auth_rate=True),
        security=NO_TOKEN,
    )
    async def sign_up(
        self, data: JSONBody[Signup], services: AppServices, audit_context: AuditContextDep
    ) -> AccountStatusRead:
        created = await signup.signup(services, data, audit_context)
        return AccountStatusRead(user_id=created.user_id, status=created.status)

    @post(
        "/verify-email",
        operation_id="verifyEmail",
        summary="Use the e-mailed verification link's token: the account becomes active",
        status_code=200,
        responses=api_responses(400, 401, 413, 422, token=False),
        opt=_opt("public.verify_email", auth_rate=True),
        security=NO_TOKEN,
    )
    async def verify_email(
        self,
        data: JSONBody[VerifyEmailBody],
        services: AppServices,
        audit_context: AuditContextDep,
    ) -> AccountStatusRead:
        verified = await signup.verify_email(services, data.token, audit_context)
        return AccountStatusRead(user_id=verified.user_id, status=verified.status)

    @post(
        "/login",
        operation_id="logIn",
        summary="Sign in with e-mail and password: tokens, or an MFA challenge",
        status_code=200,
        responses=api_responses(400, 401, 403, 413, token=False),
        opt=_opt("public.login", auth_rate=True),
        security=NO_TOKEN,
    )
    async def log_in(
        self, data: JSONBody[LoginBody], services: AppServices, audit_context: AuditContextDep
    ) -> SignInRead:
        result = await login.login_with_password(services, data.email, data.password, audit_context)
        return sign_in_read(services.settings, result)

    @post(
        "/mfa",
        operation_id="completeMfa",
        summary="Finish a sign-in with the MFA token and a TOTP code or a recovery code",
        status_code=200,
        responses=api_responses(400, 401, 413, 422, token=False),
        opt=_opt("public.mfa", auth_rate=True),
        security=NO_TOKEN,
    )
    async def complete_mfa(
        self, data: JSONBody[MfaBody], services: AppServices, audit_context: AuditContextDep
    ) -> SignInRead:
        factor = login.SecondFactor(code=data.code, recovery_code=data.recovery_code)
        result = await login.complete_mfa(services, data.mfa_token, factor, audit_context)
        return sign_in_read(services.settings, result)

    @post(
        "/refresh",
        operation_id="refreshSession",
        summary="Trade a refresh token for new tokens (the old one stops working)",
        description="Presenting a refresh token a second time revokes its whole session: 401.",
        status_code=200,
        responses=api_responses(400, 401, 413, token=False),
        opt=_opt("public.refresh", auth_rate=True),
        security=NO_TOKEN,
    )
    async def refresh(
        self, data: JSONBody[RefreshBody], services: AppServices, audit_context: AuditContextDep
    ) -> SignInRead:
        result = await sessions.refresh_session(services, data.refresh_token, audit_context)
        return sign_in_read(services.settings, result)

    @post(
        "/logout",
        operation_id="logOut",
        summary="End the session of the given refresh token, or every session (everywhere)",
        status_code=204,
        responses=api_responses(400, 404, 413, 422),
        opt=_opt("auth.logout"),
    )
    async def log_out(
        self,
        data: JSONBody[LogoutBody],
        principal: Caller,
        services: AppServices,
        audit_context: AuditContextDep,
    ) -> None:
        await sessions.end_session(
            services,
            account_id(principal),
            data.refresh_token,
            audit_context,
            everywhere=data.everywhere,
        )

    @post(
        "/password-reset/request",
        operation_id="requestPasswordReset",
        summary="E-mail a password reset link; 202 whatever the address",
        status_code=202,
        responses=api_responses(400, 413, 422, token=False),
        opt=_opt("public.password_reset_request", auth_rate=True),
        security=NO_TOKEN,
    )
    async def request_password_reset(
        self, data: JSONBody[EmailBody], services: AppServices, audit_context: AuditContextDep
    ) -> EmailSentRead:
        await password_reset.request_password_reset(services, data.email, audit_context)
        return EmailSentRead()

    @post(
        "/password-reset/confirm",
        operation_id="confirmPasswordReset",
        summary="Choose a new password with the link's token; every session ends",
        status_code=204,
        responses=api_responses(400, 401, 413, 422, token=False),
        opt=_opt("public.password_reset_confirm", auth_rate=True),
        security=NO_TOKEN,
    )
    async def confirm_password_reset(
        self,
        data: JSONBody[ResetConfirmBody],
        services: AppServices,
        audit_context: AuditContextDep,
    ) -> None:
        await password_reset.reset_password(services, data.token, data.password, audit_context)

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
        opt=_opt("public.login_code_request", auth_rate=True),
        security=NO_TOKEN,
    )
    async def request_login_code(
        self, data: JSONBody[EmailBody], services: AppServices, audit_context: AuditContextDep
    ) -> EmailSentRead:
        await login.request_login_code(services, data.email, audit_context)
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
        opt=_opt("public.login_code_verify", auth_rate=True),
        security=NO_TOKEN,
    )
    async def verify_login_code(
        self, data: JSONBody[CodeLoginBody], services: AppServices, audit_context: AuditContextDep
    ) -> SignInRead:
        result = await login.login_with_code(services, data.email, data.code, audit_context)
        return sign_in_read(services.settings, result)

    @post(
        "/totp/setup",
        operation_id="setUpTotp",
        summary=(
            "Start TOTP setup with the account's password: a new secret, its otpauth URI and "
            "QR code (doctors, admins)"
        ),
        status_code=200,
        responses=api_responses(400, 403, 404, 409, 413),
        opt=_opt("auth.totp_setup", **ENROLMENT_OK),
    )
    async def set_up_totp(
        self,
        data: JSONBody[PasswordBody],
        principal: Caller,
        services: AppServices,
        audit_context: AuditContextDep,
    ) -> TotpSetupRead:
        setup = await totp_enrolment.setup_totp(
            services, account_id(principal), data.password, audit_context
        )
        return TotpSetupRead(
            secret=setup.secret, provisioning_uri=setup.provisioning_uri, qr_code=setup.qr_code
        )

    @post(
        "/totp/enable",
        operation_id="enableTotp",
        summary="Confirm a code from the new secret: TOTP is on; 10 recovery codes, shown once",
        status_code=200,
        responses=api_responses(400, 403, 404, 409, 413, 422),
        opt=_opt("auth.totp_enable", **ENROLMENT_OK),
    )
    async def enable_totp(
        self,
        data: JSONBody[TotpCodeBody],
        principal: Caller,
        services: AppServices,
        audit_context: AuditContextDep,
    ) -> RecoveryCodesRead:
        enabled = await totp_enrolment.enable_totp(
            services, account_id(principal), data.code, audit_context
        )
        return RecoveryCodesRead(recovery_codes=enabled.recovery_codes)

    @post(
        "/totp/disable",
        operation_id="disableTotp",
        summary="Turn TOTP off with a current code; the recovery codes are deleted",
        status_code=204,
        responses=api_responses(400, 403, 404, 409, 413),
        opt=_opt("auth.totp_disable"),
    )
    async def disable_totp(
        self,
        data: JSONBody[TotpCodeBody],
        principal: Caller,
        services: AppServices,
        audit_context: AuditContextDep,
    ) -> None:
        await totp_enrolment.disable_totp(services, account_id(principal), data.code, audit_context)
