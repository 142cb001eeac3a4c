"""Who is calling: the identity a verified token vouches for.

Part of the domain core so the access policies, the token CLI and the API
guards share one definition without pulling in the web stack.
"""

from __future__ import annotations

import enum

import msgspec


class Role(enum.StrEnum):
    PATIENT = "patient"
    DOCTOR = "doctor"
    ADMIN = "admin"


# The one limited token scope: an admin's sign-in before TOTP is set up.
MFA_ENROLMENT_SCOPE = "mfa_enrolment"
TOKEN_SCOPES = frozenset({MFA_ENROLMENT_SCOPE})


class Principal(msgspec.Struct, frozen=True):
    """The caller of one request. ``user_id`` is the owner recorded on the jobs they submit.

    ``scope`` is None for a full token; a scoped token (an admin who has not
    set up TOTP yet: ``mfa_enrolment``) opens only the routes that accept it.
    """

    user_id: str
    role: Role
    scope: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN
