"""Operators' command lines: ``healthplat-admin`` (the first admin; sealing accounts stored
before names and addresses were sealed) and ``healthplat-token``.

Both read the environment the API reads (DATABASE_URL, JWT_SECRET, PHI_KEYS and
the rest of the settings: names and addresses are sealed, and an address is found
by its keyed lookup, whose key the PHI keyring opens). Jobs belong to real
users, so ``healthplat-token`` mints only for an existing active account,
with that account's id and role. A token it mints skips the account's TOTP:
whoever holds JWT_SECRET can sign any token anyway, so this grants nothing new.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import uuid
from collections.abc import Mapping, Sequence
from typing import TextIO

from api.tokens import mint_token
from domain.accounts.model import AccountStatus, SecretPurpose, User, lifetime_minutes
from domain.accounts.sealing import SEAL_BATCH_SIZE, SealingReport, seal_accounts
from domain.accounts.signup import create_admin
from domain.adapters.bootstrap import (
    address_validator,
    broker_for,
    build_services,
    one_shot_units_of_work,
)
from domain.auditing import AuditContext
from domain.errors import DomainError, ValidationFailed
from domain.identity import Role
from domain.settings import Settings, SettingsError, load_settings
from domain.wiring import Wired

OPERATOR = AuditContext(actor_id="healthplat-admin", actor_role="operator")
USAGE_ERROR = 2
RESET_MINUTES = lifetime_minutes(SecretPurpose.PASSWORD_RESET)
REFUSED = 1


def _fail(message: str, code: int = REFUSED) -> int:
    print(message, file=sys.stderr)
    return code


# -- healthplat-token ----------------------------------------------------------------------


async def find_user(settings: Settings, *, sub: uuid.UUID | None, email: str | None) -> User | None:
    """By id, or by address as sign-in finds one (normalised, then its keyed lookup)."""
    async with one_shot_units_of_work(settings) as units, units() as uow:
        if sub is not None:
            return await uow.users.get(sub)
        return await uow.users.by_email(email or "")


def token_main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    env = os.environ if environ is None else environ
    parser = argparse.ArgumentParser(
        prog="healthplat-token",
        description=(
            "Mint a bearer token for an existing active account (reads JWT_SECRET, PHI_KEYS, "
            "DATABASE_URL ... from the environment). The token carries the account's id and role."
        ),
    )
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--sub", help="the account's user id")
    who.add_argument("--email", help="the account's e-mail address")
    parser.add_argument(
        "--role",
        choices=[role.value for role in Role],
        help="optional check: refuse unless the account has this role",
    )
    parser.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds (default 3600)")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(env)
    except SettingsError as exc:
        return _fail(str(exc), USAGE_ERROR)
    if args.ttl <= 0:
        return _fail("--ttl must be positive", USAGE_ERROR)
    try:
        sub = uuid.UUID(args.sub) if args.sub is not None else None
    except ValueError:
        return _fail("--sub must be a user id (a UUID)", USAGE_ERROR)
    email = None
    if args.email is not None:
        try:
            email = address_validator().normalize(args.email)
        except ValidationFailed:
            return _fail("--email must be an e-mail address", USAGE_ERROR)
    user = asyncio.run(find_user(settings, sub=sub, email=email))
    if user is None:
        return _fail("no such account")
    if user.status is not AccountStatus.ACTIVE:
        return _fail(f"the account is {user.status.value}; only an active account gets a token")
    if args.role is not None and user.role.value != args.role:
        return _fail(f"the account's role is {user.role.value}, not {args.role}")
    print(mint_token(settings.jwt_secret, str(user.id), user.role, args.ttl))
    return 0


# -- healthplat-admin ----------------------------------------------------------------------


async def _create_admin(
    environ: Mapping[str, str], email: str, name: str, password: str | None
) -> tuple[uuid.UUID, str | None]:
    settings = load_settings(environ)
    broker = broker_for(settings)
    services = build_services(settings, broker, pool_max_size=1)
    try:
        await services.open(wait_for_database=True)
        cases = Wired(services.dependencies())
        created = await cases.run(create_admin, OPERATOR, email, name, password)
    finally:
        await services.close()
        broker.client.close()
    return created.user_id, created.reset_link


async def _seal_accounts(environ: Mapping[str, str], batch_size: int) -> SealingReport:
    async with one_shot_units_of_work(load_settings(environ)) as units:
        return await Wired({"uow_factory": units}).run(seal_accounts, OPERATOR, batch_size)


def _sealing_outcome(report: SealingReport) -> int:
    print(f"accounts sealed: {report.sealed}; still in the clear: {report.left}")
    if report.conflicts:
        print(
            f"{report.conflicts} account(s) share an address with an account made since the "
            "upgrade; they stay in the clear until one of each pair is removed",
            file=sys.stderr,
        )
    if not report.done:
        return _fail("not every account is sealed yet: run seal-accounts again")
    return 0


def admin_main(
    argv: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
    stdin: TextIO | None = None,
) -> int:
    env = os.environ if environ is None else environ
    parser = argparse.ArgumentParser(
        prog="healthplat-admin", description="Operator tasks on accounts (reads the environment)."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser(
        "create-admin",
        help="create an active admin; they set up TOTP at their first sign-in",
        description=(
            f"Without --password-stdin, prints a one-time link (valid {RESET_MINUTES} minutes) "
            "where the admin chooses a password. It is shown once: nothing else holds it."
        ),
    )
    create.add_argument("--email", required=True)
    create.add_argument("--name", required=True)
    create.add_argument(
        "--password-stdin", action="store_true", help="read the password from the first line"
    )
    seal = commands.add_parser(
        "seal-accounts",
        help="seal the names and addresses of accounts stored before they were sealed",
        description=(
            "Run after upgrading to migration 0008 when migrations are applied separately "
            "(healthplat runs it itself): seals every account's name and e-mail address "
            "still stored in the clear, in batches, and clears the plaintext. Safe to run "
            "again; exits 1 while any account is left in the clear."
        ),
    )
    seal.add_argument(
        "--batch-size", type=int, default=SEAL_BATCH_SIZE, help="accounts per transaction"
    )
    args = parser.parse_args(argv)
    if args.command == "seal-accounts":
        if args.batch_size <= 0:
            return _fail("--batch-size must be positive", USAGE_ERROR)
        try:
            report = asyncio.run(_seal_accounts(env, args.batch_size))
        except SettingsError as exc:
            return _fail(str(exc), USAGE_ERROR)
        return _sealing_outcome(report)
    password = None
    if args.password_stdin:
        password = (stdin or sys.stdin).readline().rstrip("\r\n")
    try:
        user_id, link = asyncio.run(_create_admin(env, args.email, args.name, password))
    except SettingsError as exc:
        return _fail(str(exc), USAGE_ERROR)
    except DomainError as exc:
        return _fail(exc.message)
    print(f"admin created: {user_id}")
    if link is not None:
        print(f"set the password (once, within {RESET_MINUTES} minutes): {link}")
    return 0


if __name__ == "__main__":
    sys.exit(admin_main())
