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


class Principal(msgspec.Struct, frozen=True):
    """The caller of one request. ``user_id`` is the owner recorded on the jobs they submit."""

    user_id: str
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN
