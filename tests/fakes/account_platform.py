"""Every port the account use cases take, faked, and the use cases wired to them by name.

The unit tests of the accounts feature run the real use cases (domain/accounts/) exactly
as the API runs them (``cases.run(use_case, access or audit context, values...)``), on
in-memory fakes and a manual clock, and read the outcome from the fake tables: the rows,
the e-mails queued (and the jobs sent after commit), the audit trail, the rate store.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from domain.accounts import login, sessions, signup, totp
from domain.accounts.emailed_secrets import EmailedSecret, request_emailed_secret
from domain.accounts.model import DoctorSignup, PatientSignup, User
from domain.auditing import AuditContext, AuditEntry
from domain.clock import ManualClock
from domain.identity import Principal, Role
from domain.notifications.ports import EmailMessage
from domain.policies import Access, policy_named
from domain.settings import Settings
from domain.wiring import Wired
from tests.fakes.accounts import ACCOUNT_REPOSITORIES
from tests.fakes.audit import audited
from tests.fakes.credentials import FakePasswords, FakeTotp, code_at
from tests.fakes.crypto import FakeCipher
from tests.fakes.database import FakeUnitOfWorkFactory
from tests.fakes.emails import FakeAddresses, FakeRenderer, emails_sent
from tests.fakes.jobs import RecordingSender
from tests.fakes.rate_limiter import FakeRateLimiter
from tests.support.people import Person

START = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
# A public route's context: nobody is signed in, so the actor is unknown.
ANONYMOUS = AuditContext(actor_id=None, actor_role=None, ip="192.0.2.7", request_id="unit")


def unit_settings() -> Settings:
    """Settings no adapter reads: the use cases need only the secret, links and timings."""
    return Settings(
        database_url="postgresql://unused/unused",
        redis_url="redis://unused:6379/0",
        jwt_secret="unit-test-secret-" + "x" * 40,
        data_dir=Path("unused"),
        phi_keys={"fake-k1": bytes(32)},
        phi_active_key_id="fake-k1",
        public_app_url="https://app.example.org/",
        smtp_from="Healthplat <no-reply@example.org>",
        account_email_min_seconds=0.001,
    )


def link_token(message: EmailMessage, field: str) -> str:
    """The token of the link an e-mail carries in ``field`` (verifyUrl, resetUrl)."""
    return parse_qs(urlsplit(message.data[field]).query)["token"][0]


def signup_of(person: Person, role: Role = Role.PATIENT) -> PatientSignup | DoctorSignup:
    if role is Role.DOCTOR:
        return DoctorSignup(
            email=person.email,
            password=person.password,
            name=person.name,
            phone=person.phone,
            specialty=person.specialty or "general practice",
            licence_number=person.licence_number or "KH-MED-00001",
            consultation_fee_cents=person.consultation_fee_cents or 0,
        )
    born = date.fromisoformat(person.date_of_birth) if person.date_of_birth else None
    return PatientSignup(
        email=person.email,
        password=person.password,
        name=person.name,
        phone=person.phone,
        date_of_birth=born,
    )


class AccountPlatform:
    def __init__(self) -> None:
        self.clock = ManualClock(START)
        self.uow = FakeUnitOfWorkFactory(ACCOUNT_REPOSITORIES, self.clock)
        self.settings = unit_settings()
        self.sender = RecordingSender()
        self.passwords = FakePasswords()
        self.totp = FakeTotp()
        self.cipher = FakeCipher()
        self.rate_limiter = FakeRateLimiter(self.clock)
        self.cases = Wired(
            {
                "uow_factory": self.uow,
                "clock": self.clock,
                "settings": self.settings,
                "sender": self.sender,
                "renderer": FakeRenderer(),
                "addresses": FakeAddresses(),
                "cipher": self.cipher,
                "passwords": self.passwords,
                "totp": self.totp,
                "rate_limiter": self.rate_limiter,
            }
        )

    async def run(self, use_case: Callable[..., Any], *args: Any) -> Any:
        return await self.cases.run(use_case, *args)

    # -- what the fake tables hold -----------------------------------------------------------

    def table(self, name: str) -> dict[Any, Any]:
        return self.uow.database.table(name)

    def emails(self, template: str | None = None) -> list[EmailMessage]:
        return emails_sent(self.uow.database, template)

    def last_email(self, template: str) -> EmailMessage:
        return self.emails(template)[-1]

    def audited(self) -> list[AuditEntry]:
        return audited(self.uow.database)

    def actions(self) -> list[str]:
        return [entry.action for entry in self.audited()]

    def user(self, email: str) -> User:
        [found] = [user for user in self.table("users").values() if user.email == email]
        return found

    def sent_job_ids(self) -> list[uuid.UUID]:
        return [job_id for job_id, _ in self.sender.sent]

    # -- callers -----------------------------------------------------------------------------

    @staticmethod
    def access(user: User, policy: str) -> Access:
        """``user`` calling a route of ``policy`` with a full token."""
        return Access(principal=Principal(str(user.id), user.role), policy=policy_named(policy))

    # -- accounts made through the use cases themselves ------------------------------------

    async def sign_up(self, person: Person, role: Role = Role.PATIENT) -> User:
        await self.run(signup.signup, ANONYMOUS, signup_of(person, role))
        return self.user(person.email)

    async def active(self, person: Person, role: Role = Role.PATIENT) -> User:
        """``person`` signed up and verified their address with the e-mailed link."""
        await self.sign_up(person, role)
        token = link_token(self.last_email("account_verification"), "verifyUrl")
        await self.run(signup.verify_email, ANONYMOUS, token)
        return self.user(person.email)

    async def admin(self, person: Person) -> User:
        created = await self.run(
            signup.create_admin, ANONYMOUS, person.email, person.name, person.password
        )
        return self.table("users")[created.user_id]

    async def with_totp(self, user: User, password: str) -> tuple[str, list[str]]:
        """TOTP set up and enabled on ``user``: its secret and recovery codes."""
        setup = await self.run(
            totp.setup_totp, self.access(user, "auth.totp_setup"), ANONYMOUS, password
        )
        enabled = await self.run(
            totp.enable_totp,
            self.access(user, "auth.totp_enable"),
            ANONYMOUS,
            self.totp_code(setup.secret),
        )
        self.clock.advance(30)  # the enabling code's step is spent
        return setup.secret, enabled.recovery_codes

    def totp_code(self, secret: str) -> str:
        return code_at(secret, self.clock.now())

    async def ask(self, kind: EmailedSecret, email: str) -> None:
        """Ask, as anyone may, for a secret of ``kind`` to be e-mailed to ``email``."""
        await self.run(request_emailed_secret, ANONYMOUS, kind, email)

    async def sign_in(self, person: Person) -> sessions.SignIn:
        return await self.run(login.login_with_password, ANONYMOUS, person.email, person.password)
