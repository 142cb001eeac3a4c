"""Accounts: sign-up, sign-in, sessions, password reset, TOTP, the caller's own account."""
