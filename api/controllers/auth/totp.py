"""TOTP two-factor sign-in on the caller's own account (doctors and admins):
``POST /auth/totp/setup``, ``/enable`` and ``/disable``.

Setup and enable also open to an admin's enrolment-only token (``mfa_enrolment``), so
an admin can set TOTP up at first sign-in; disabling needs a full token.
"""

from __future__ import annotations

import msgspec
from litestar import post
from litestar.params import JSONBody

from api.audit_context import AuditContextDep
from api.controllers.auth.common import (
    ENROLMENT_OK,
    AuthResource,
    Body,
    CodeField,
    PasswordField,
    route_opt,
)
from api.policy_guard import AccessDep
from api.problems import api_responses
from api.state import UseCases
from domain.accounts import totp


class TotpCodeBody(Body):
    code: CodeField


class PasswordBody(Body):
    password: PasswordField


class TotpSetupRead(msgspec.Struct, frozen=True, rename="camel"):
    secret: str
    provisioning_uri: str
    qr_code: str


class RecoveryCodesRead(msgspec.Struct, frozen=True, rename="camel"):
    recovery_codes: list[str]


class TotpController(AuthResource):
    @post(
        "/totp/setup",
        operation_id="setUpTotp",
        summary=(
            "Start TOTP setup with the account's password: a new secret, its otpauth URI and "
            "QR code (doctors, admins)"
        ),
        status_code=200,
        responses=api_responses(400, 403, 404, 409, 413),
        opt=route_opt("auth.totp_setup", **ENROLMENT_OK),
    )
    async def set_up_totp(
        self,
        data: JSONBody[PasswordBody],
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> TotpSetupRead:
        setup = await cases.run(totp.setup_totp, access, audit_context, data.password)
        return TotpSetupRead(
            secret=setup.secret, provisioning_uri=setup.provisioning_uri, qr_code=setup.qr_code
        )

    @post(
        "/totp/enable",
        operation_id="enableTotp",
        summary="Confirm a code from the new secret: TOTP is on; 10 recovery codes, shown once",
        status_code=200,
        responses=api_responses(400, 403, 404, 409, 413, 422),
        opt=route_opt("auth.totp_enable", **ENROLMENT_OK),
    )
    async def enable_totp(
        self,
        data: JSONBody[TotpCodeBody],
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> RecoveryCodesRead:
        enabled = await cases.run(totp.enable_totp, access, audit_context, data.code)
        return RecoveryCodesRead(recovery_codes=enabled.recovery_codes)

    @post(
        "/totp/disable",
        operation_id="disableTotp",
        summary="Turn TOTP off with a current code; the recovery codes are deleted",
        status_code=204,
        responses=api_responses(400, 403, 404, 409, 413),
        opt=route_opt("auth.totp_disable"),
    )
    async def disable_totp(
        self,
        data: JSONBody[TotpCodeBody],
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> None:
        await cases.run(totp.disable_totp, access, audit_context, data.code)
