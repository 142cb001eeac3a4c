"""Users, credentials, password hashing and TOTP."""
