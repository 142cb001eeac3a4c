"""TOTP (RFC 6238) with pyotp: 30-second steps, 6 digits, SHA-1, as every authenticator app does.

A code is accepted one step either side of now (phones drift), but never
twice: ``match`` returns the step it matched and refuses any step not later
than the last one accepted, which the caller stores. The QR code is made with
segno as an SVG data URI, so nothing is written or fetched.
"""

from __future__ import annotations

import hmac
from datetime import datetime

import pyotp
import segno

WINDOW = 1  # steps accepted either side of now
DIGITS = 6


class PyOtpTotp:
    def new_secret(self) -> str:
        return pyotp.random_base32()  # 160 bits, the RFC 4226 recommendation

    def provisioning_uri(self, secret: str, *, account: str, issuer: str) -> str:
        return pyotp.TOTP(secret, digits=DIGITS).provisioning_uri(name=account, issuer_name=issuer)

    def qr_code(self, uri: str) -> str:
        return segno.make(uri, error="m").svg_data_uri(scale=4)

    def match(self, secret: str, code: str, *, at: datetime, after_step: int | None) -> int | None:
        candidate = code.strip()
        if len(candidate) != DIGITS or not candidate.isdigit():
            return None
        totp = pyotp.TOTP(secret, digits=DIGITS)
        now_step = totp.timecode(at)
        found = None
        # Every step is compared (no early exit), so the time taken says nothing.
        for step in range(now_step - WINDOW, now_step + WINDOW + 1):
            if hmac.compare_digest(totp.generate_otp(step), candidate) and (
                after_step is None or step > after_step
            ):
                found = step
        return found
