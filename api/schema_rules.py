"""The rules the domain applies to request bodies after decoding, stated in the OpenAPI schema.

Each rule here mirrors a check in the domain and is built from that check's
own constants and patterns (``api.openapi`` explains the mechanism). A rule
that cannot be stated in JSON Schema (a date of birth in the past: "today"
moves) is left to the domain's 422 and named in tests/e2e/schemathesis.toml.
"""

from __future__ import annotations

from email_validator import SPECIAL_USE_DOMAIN_NAMES
from litestar.openapi.spec import OpenAPIFormat, OpenAPIType, Schema

from api.controllers.account import AccountUpdate
from api.controllers.auth.sessions import LogoutBody, MfaBody
from api.controllers.patients import PatientUpdate
from api.openapi import RuleBook, constrain
from domain.accounts.model import (
    MAX_FEE_CENTS,
    MAX_LICENCE_LENGTH,
    MAX_NAME_LENGTH,
    MAX_PASSWORD_LENGTH,
    MAX_SPECIALTY_LENGTH,
    MIN_PASSWORD_LENGTH,
    PHONE_PATTERN,
    TEXT_PATTERN,
    DoctorSignup,
    PatientSignup,
)
from domain.notifications.email import COUNT, FIELD_PATTERNS, TEMPLATES, FieldKind, SendEmail

REQUEST_RULES = RuleBook()
schema_rule = REQUEST_RULES.rule

# RFC 5321's limit on a whole address, which the address check (email-validator) applies.
MAX_EMAIL_LENGTH = 254


def _any_case(word: str) -> str:
    return "".join(f"[{letter.lower()}{letter.upper()}]" for letter in word)


# The address check also refuses the special-use domains (RFC 6761: .test, .local ...).
NOT_SPECIAL_USE = (
    r"^(?![\s\S]*[@.](?:" + "|".join(_any_case(name) for name in SPECIAL_USE_DOMAIN_NAMES) + r")$)"
)


def _email(schema: Schema, field: str) -> None:
    constrain(
        schema,
        field,
        format=OpenAPIFormat.EMAIL,
        max_length=MAX_EMAIL_LENGTH,
        pattern=NOT_SPECIAL_USE,
    )


def _string() -> Schema:
    return Schema(type=OpenAPIType.STRING)


def _null() -> Schema:
    return Schema(type=OpenAPIType.NULL)


@schema_rule(PatientSignup, DoctorSignup)
def _signup(schema: Schema) -> None:
    """domain.accounts.check_signup."""
    _email(schema, "email")
    constrain(schema, "password", min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)
    constrain(schema, "name", pattern=TEXT_PATTERN, max_length=MAX_NAME_LENGTH)
    constrain(schema, "phone", pattern=PHONE_PATTERN)


@schema_rule(DoctorSignup)
def _doctor_signup(schema: Schema) -> None:
    constrain(schema, "specialty", pattern=TEXT_PATTERN, max_length=MAX_SPECIALTY_LENGTH)
    constrain(schema, "licenceNumber", pattern=TEXT_PATTERN, max_length=MAX_LICENCE_LENGTH)
    constrain(schema, "consultationFeeCents", minimum=0, maximum=MAX_FEE_CENTS)


def _at_least_one(schema: Schema, *fields: str) -> None:
    schema.any_of = [Schema(required=[field]) for field in fields]


@schema_rule(AccountUpdate)
def _account_update(schema: Schema) -> None:
    """domain.my_account: at least one field, each by the sign-up rules."""
    _at_least_one(schema, "name", "phone")
    constrain(schema, "name", pattern=TEXT_PATTERN, max_length=MAX_NAME_LENGTH)
    constrain(schema, "phone", pattern=PHONE_PATTERN)


@schema_rule(PatientUpdate)
def _patient_update(schema: Schema) -> None:
    """domain.patients.clean_changes: at least one field, each by the sign-up rules."""
    _at_least_one(schema, "phone", "dateOfBirth")
    constrain(schema, "phone", pattern=PHONE_PATTERN)


@schema_rule(LogoutBody)
def _logout(schema: Schema) -> None:
    """domain.sessions.end_session: a refresh token to end, or everywhere: true."""
    schema.any_of = [
        Schema(required=["refreshToken"], properties={"refreshToken": _string()}),
        Schema(required=["everywhere"], properties={"everywhere": Schema(const=True)}),
    ]


@schema_rule(MfaBody)
def _mfa(schema: Schema) -> None:
    """domain.login.complete_mfa: exactly one of a TOTP code and a recovery code."""
    schema.any_of = [
        Schema(required=["code"], properties={"code": _string(), "recoveryCode": _null()}),
        Schema(required=["recoveryCode"], properties={"recoveryCode": _string(), "code": _null()}),
    ]


def _data_field(kind: FieldKind) -> Schema:
    if kind is COUNT:
        return Schema(type=OpenAPIType.INTEGER, minimum=1)
    return Schema(type=OpenAPIType.STRING, pattern=FIELD_PATTERNS[kind])


@schema_rule(SendEmail)
def _send_email(schema: Schema) -> None:
    """domain.notifications.validate_template_data: one branch per template, with exactly the
    data fields that template needs."""
    _email(schema, "to")
    constrain(schema, "template", enum=sorted(TEMPLATES))
    schema.one_of = [
        Schema(
            required=["data"],
            properties={
                "template": Schema(const=name),
                "data": Schema(
                    type=OpenAPIType.OBJECT,
                    required=sorted(fields),
                    properties={field: _data_field(kind) for field, kind in fields.items()},
                    additional_properties=False,
                ),
            },
        )
        for name, fields in sorted(TEMPLATES.items())
    ]
