"""Signing up and signing in: one controller per resource under ``/auth``.

Sign-up and e-mail verification (signup.py), sessions (sessions.py: password sign-in, the
MFA step, refresh, sign-out), browser sessions with the refresh token in a cookie
(browser.py), e-mailed sign-in codes (login_codes.py), password reset
(password_reset.py) and TOTP (totp.py); what they share is in common.py. The routes that
take a credential are public (policy ``public.*``) and rate limited per address
(``rate_limit: "auth"``); sign-out and the TOTP routes act on the caller's own account.
"""

from __future__ import annotations

from api.controllers.auth.browser import BrowserSessionController
from api.controllers.auth.login_codes import LoginCodesController
from api.controllers.auth.password_reset import PasswordResetController
from api.controllers.auth.sessions import SessionsController
from api.controllers.auth.signup import SignUpController
from api.controllers.auth.totp import TotpController

# In the order the OpenAPI document lists their paths.
AUTH_CONTROLLERS = (
    SignUpController,
    SessionsController,
    BrowserSessionController,
    PasswordResetController,
    LoginCodesController,
    TotpController,
)
