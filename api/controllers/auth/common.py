"""What the ``/auth`` controllers share: the resource's settings, the transport bounds of
credentials, the sign-in answer, and the 429/503 answers of a spent or unreachable budget.

Every ``/auth`` controller answers ``Cache-Control: no-store`` (token answers are never
cached, RFC 6749 5.1) and maps the per-account budgets' refusals
(domain/accounts/sign_in_budget.py) to the rate-limit middleware's own 429 and 503. The
access token is minted here, from what the domain's sign-in returns, with the API's one
token format (api/tokens.py).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response
from litestar.datastructures import CacheControlHeader
from litestar.types import ExceptionHandlersMap

from api.auth import TOKEN_SCOPES_OPT
from api.middleware.rate_limit import limiter_unavailable, too_many_requests
from api.tokens import mint_token
from domain.accounts import sessions
from domain.accounts.sign_in_budget import BudgetUnavailable, TooManyAttempts
from domain.identity import MFA_ENROLMENT_SCOPE, Role
from domain.settings import Settings

# Transport bounds only: a body cannot be absurd. The rules answer 422 or 401.
Secret = Annotated[str, msgspec.Meta(min_length=1, max_length=512)]
EmailField = Annotated[str, msgspec.Meta(min_length=1, max_length=320)]
PasswordField = Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]
CodeField = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]

AUTH_RATE = {"rate_limit": "auth"}
ENROLMENT_OK = {TOKEN_SCOPES_OPT: (MFA_ENROLMENT_SCOPE,)}
# The router asks for a bearer token; an empty requirement beside it makes one optional.
NO_TOKEN: list[dict[str, list[str]]] = [{}]


def route_opt(policy: str, *, auth_rate: bool = False, **extra: object) -> dict[str, object]:
    """A route's ``opt``: its policy, and for a credential route the per-address rate limit."""
    return {"policy": policy, **(AUTH_RATE if auth_rate else {}), **extra}


class Body(msgspec.Struct, frozen=True, rename="camel", forbid_unknown_fields=True):
    pass


class EmailBody(Body):
    email: EmailField


class EmailSentRead(msgspec.Struct, frozen=True, rename="camel"):
    """The same answer whether or not the address has an account."""

    message: str = "if an active account uses this address, an e-mail is on its way"


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


class AuthResource(Controller):
    """The base of every ``/auth`` controller: its path, tag, no-store and budget answers."""

    path = "/auth"
    tags = ["auth"]
    cache_control = CacheControlHeader(no_store=True)
    exception_handlers = BUDGET_REFUSALS
