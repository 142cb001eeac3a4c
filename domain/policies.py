"""Who may do what: one table of access policies, and the two checks that apply them.

Every /api/v1 route names its policy (``opt={"policy": "patient.read"}``).
A policy has two rules, checked at two moments:

- the *role* rule, checked by a guard before the request body is even read:
  a refused role learns nothing about any resource, so it is a 403;
- the *relation* rule, checked by the service once it has loaded the target
  (the caller is the account itself, owns the job, is a party to the
  connection, is the patient's connected doctor, is an admin). A refusal
  here would tell the caller that the target exists, so it is answered
  exactly like a missing target: a 404.

A service never asks "is this caller a doctor?" itself; it works out how the
caller stands to the resource (``*_relations`` below, from loaded data) and
hands that to ``Access.authorize``, so the decision stays in this table.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable

import msgspec

from domain.errors import Forbidden, NotFound
from domain.identity import Principal, Role


class Relation(enum.StrEnum):
    """How a caller stands to what a request names."""

    PUBLIC = "public"  # no token needed: there is no caller to relate
    AUTHENTICATED = "authenticated"  # any caller of an allowed role; no target to relate to
    SELF = "self"  # the target is the caller's own account
    OWNER = "owner"  # the caller created the target (a job they submitted)
    PARTY = "party"  # the caller is one side of the target connection
    CONNECTED_DOCTOR = "connected_doctor"  # an active connection links this doctor to the patient
    ADMIN = "admin"  # the caller is an administrator


# Relations that need no target: the role rule is the whole policy.
TARGETLESS = frozenset({Relation.PUBLIC, Relation.AUTHENTICATED})

ANYONE = frozenset(Role)
PATIENTS = frozenset({Role.PATIENT})
DOCTORS = frozenset({Role.DOCTOR})
ADMINS = frozenset({Role.ADMIN})
CARE = frozenset({Role.PATIENT, Role.DOCTOR})


class UnknownPolicy(LookupError):
    """Raised when a route names a policy the table does not hold: a bug, never a client error."""


class Policy(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    roles: frozenset[Role]
    relations: tuple[Relation, ...]  # any one grants access; earlier ones are preferred
    target: str | None = None  # what a refused relation is reported as ("patient not found")
    patient_data: bool = False  # every access is audited, an admin's included

    @property
    def public(self) -> bool:
        return Relation.PUBLIC in self.relations

    @property
    def needs_target(self) -> bool:
        return not TARGETLESS.intersection(self.relations)


def policy(
    name: str,
    roles: frozenset[Role],
    *relations: Relation,
    target: str | None = None,
    patient_data: bool = False,
) -> Policy:
    """One row of the table; a targeted policy names what its refusal looks like."""
    if not relations:
        raise ValueError(f"policy {name} names no relation")
    if TARGETLESS.intersection(relations) and len(relations) > 1:
        raise ValueError(f"policy {name} mixes a targetless relation with others")
    needs_target = not TARGETLESS.intersection(relations)
    if needs_target and target is None:
        raise ValueError(f"policy {name} checks a relation but names no target")
    return Policy(
        name=name, roles=roles, relations=relations, target=target, patient_data=patient_data
    )


def public(name: str) -> Policy:
    """An endpoint anyone may call without a token (sign-up, login): ``public.<name>``."""
    return policy(f"public.{name}", ANYONE, Relation.PUBLIC)


def self_service(name: str, roles: frozenset[Role] = ANYONE) -> Policy:
    """An endpoint that acts on the caller's own account only (``/me``): no target to check."""
    return policy(name, roles, Relation.AUTHENTICATED)


R = Relation
_TABLE: tuple[Policy, ...] = (
    # jobs: the submitter and admins; to anyone else a job does not exist
    policy("job.list", ANYONE, R.OWNER, R.ADMIN, target="job"),
    policy("job.read", ANYONE, R.OWNER, R.ADMIN, target="job"),
    policy("job.events", ANYONE, R.OWNER, R.ADMIN, target="job"),
    policy("job.cancel", ANYONE, R.OWNER, R.ADMIN, target="job"),
    policy("job.retry", ADMINS, R.ADMIN, target="job"),
    # notifications: e-mail by an admin; in-app notices are their user's alone
    policy("notification.send_email", ADMINS, R.AUTHENTICATED),
    self_service("notice.list"),
    self_service("notice.preferences"),
    self_service("notice.live"),  # the WebSocket checks the token of its first message itself
    policy("notice.read", ANYONE, R.OWNER, target="notice"),
    # doctor-patient connections
    policy("connection.list", ANYONE, R.PARTY, R.ADMIN, target="connection"),
    policy("connection.request", PATIENTS, R.AUTHENTICATED),
    policy("connection.accept", DOCTORS, R.PARTY, target="connection"),
    policy("connection.reject", DOCTORS, R.PARTY, target="connection"),
    policy("connection.revoke", CARE, R.PARTY, target="connection"),
    policy("connection.invite", DOCTORS, R.AUTHENTICATED),
    policy("connection.accept_invitation", PATIENTS, R.AUTHENTICATED),
    # patient data: the patient, their connected doctors, and (read only, audited) admins
    policy(
        "patient.read",
        ANYONE,
        R.SELF,
        R.CONNECTED_DOCTOR,
        R.ADMIN,
        target="patient",
        patient_data=True,
    ),
    policy("patient.update", PATIENTS, R.SELF, target="patient", patient_data=True),
    policy(
        "clinical_notes.read",
        CARE,
        R.SELF,
        R.CONNECTED_DOCTOR,
        target="patient",
        patient_data=True,
    ),
    policy(
        "clinical_notes.write", DOCTORS, R.CONNECTED_DOCTOR, target="patient", patient_data=True
    ),
    # medical records (client-encrypted blobs on IPFS) and documents (PDFs we encrypt):
    # the patient and their connected doctors; admins may see records' metadata and
    # proofs (audited) but never the content
    policy("record.create", CARE, R.SELF, R.CONNECTED_DOCTOR, target="patient", patient_data=True),
    policy(
        "record.list",
        ANYONE,
        R.SELF,
        R.CONNECTED_DOCTOR,
        R.ADMIN,
        target="patient",
        patient_data=True,
    ),
    policy(
        "record.read",
        ANYONE,
        R.SELF,
        R.CONNECTED_DOCTOR,
        R.ADMIN,
        target="record",
        patient_data=True,
    ),
    policy("record.content", CARE, R.SELF, R.CONNECTED_DOCTOR, target="record", patient_data=True),
    policy("record.delete", PATIENTS | ADMINS, R.SELF, R.ADMIN, target="record", patient_data=True),
    policy(
        "document.create", CARE, R.SELF, R.CONNECTED_DOCTOR, target="patient", patient_data=True
    ),
    policy("document.list", CARE, R.SELF, R.CONNECTED_DOCTOR, target="patient", patient_data=True),
    policy("document.read", CARE, R.SELF, R.CONNECTED_DOCTOR, target="document", patient_data=True),
    policy("document.delete", PATIENTS, R.SELF, target="document", patient_data=True),
    # prescription scans (photos and PDFs we encrypt): as documents
    policy("scan.create", CARE, R.SELF, R.CONNECTED_DOCTOR, target="patient", patient_data=True),
    policy("scan.list", CARE, R.SELF, R.CONNECTED_DOCTOR, target="patient", patient_data=True),
    policy("scan.read", CARE, R.SELF, R.CONNECTED_DOCTOR, target="scan", patient_data=True),
    policy("scan.delete", PATIENTS, R.SELF, target="scan", patient_data=True),
    # a scan's draft becomes a prescription: a connected doctor's, or the patient's own record
    # of the paper prescription (no doctor of ours; the prescriber as printed)
    policy("scan.confirm", CARE, R.SELF, R.CONNECTED_DOCTOR, target="scan", patient_data=True),
    # adherence: the patient, their connected doctors, (read only, audited) admins; the
    # risk dashboard is a doctor's own
    policy(
        "adherence.read",
        ANYONE,
        R.SELF,
        R.CONNECTED_DOCTOR,
        R.ADMIN,
        target="patient",
        patient_data=True,
    ),
    self_service("dashboard.read", DOCTORS),
    # vital signs: the patient and their connected doctors record and read them
    policy("vital.record", CARE, R.SELF, R.CONNECTED_DOCTOR, target="patient", patient_data=True),
    policy("vital.list", CARE, R.SELF, R.CONNECTED_DOCTOR, target="patient", patient_data=True),
    # health alerts: the patient and their connected doctors; doctors acknowledge, resolve and
    # set a patient's rules; the inbox lists the caller's own (a doctor's: connected patients')
    policy("alert.inbox", CARE, R.AUTHENTICATED),
    policy("alert.list", CARE, R.SELF, R.CONNECTED_DOCTOR, target="patient", patient_data=True),
    policy("alert.read", CARE, R.SELF, R.CONNECTED_DOCTOR, target="alert", patient_data=True),
    policy("alert.acknowledge", DOCTORS, R.CONNECTED_DOCTOR, target="alert", patient_data=True),
    policy("alert.resolve", DOCTORS, R.CONNECTED_DOCTOR, target="alert", patient_data=True),
    policy(
        "alert_rules.read", CARE, R.SELF, R.CONNECTED_DOCTOR, target="patient", patient_data=True
    ),
    policy("alert_rules.write", DOCTORS, R.CONNECTED_DOCTOR, target="patient", patient_data=True),
    # the medicines catalogue names no patient: anyone signed in reads it, admins keep it
    policy("medicine.read", ANYONE, R.AUTHENTICATED),
    policy("medicine.write", ADMINS, R.AUTHENTICATED),
    # prescriptions: a connected doctor writes one; only its owner edits, activates, completes
    # or cancels it: its prescribing doctor (still connected), or the patient for their own
    # record of a paper prescription (confirmed from a scan); the patient and their connected
    # doctors read them
    policy("prescription.create", DOCTORS, R.CONNECTED_DOCTOR, target="patient", patient_data=True),
    policy(
        "prescription.list", CARE, R.SELF, R.CONNECTED_DOCTOR, target="patient", patient_data=True
    ),
    policy(
        "prescription.read",
        CARE,
        R.SELF,
        R.CONNECTED_DOCTOR,
        target="prescription",
        patient_data=True,
    ),
    policy("prescription.write", CARE, R.OWNER, target="prescription", patient_data=True),
    # a batch: any doctor may send one; the job refuses each patient not connected to them
    policy("prescription.batch", DOCTORS, R.AUTHENTICATED),
    # doses: the patient marks their own; the patient and their connected doctors read them;
    # the patient sets the time zone their doses' local times are read in
    policy("dose.list", CARE, R.SELF, R.CONNECTED_DOCTOR, target="patient", patient_data=True),
    policy("dose.mark", PATIENTS, R.SELF, target="dose", patient_data=True),
    policy("patient.time_zone", PATIENTS, R.SELF, target="patient", patient_data=True),
    # the doctor directory is public professional data, for any signed-in user
    policy("doctor.list", ANYONE, R.AUTHENTICATED),
    # telemedicine: a doctor keeps their own calendar; anyone signed in searches free times
    policy("availability.write", DOCTORS, R.AUTHENTICATED),
    policy("availability.read", ANYONE, R.AUTHENTICATED),
    policy("consultation.hold", PATIENTS, R.AUTHENTICATED),
    policy("consultation.read", ANYONE, R.PARTY, R.ADMIN, target="consultation"),
    policy("consultation.list", ANYONE, R.PARTY, R.ADMIN, target="consultation"),
    self_service("consultation.day", DOCTORS),
    policy("consultation.notes_write", DOCTORS, R.PARTY, target="consultation", patient_data=True),
    policy("consultation.notes_read", CARE, R.PARTY, target="consultation", patient_data=True),
    policy("consultation.prescribe", DOCTORS, R.PARTY, target="consultation", patient_data=True),
    policy("consultation.prescriptions", CARE, R.PARTY, target="consultation", patient_data=True),
    policy("consultation.cancel", CARE, R.PARTY, target="consultation"),
    policy("consultation.conduct", DOCTORS, R.PARTY, target="consultation"),
    policy("consultation.reschedule", PATIENTS, R.PARTY, target="consultation"),
    # inbound webhooks: the signature is the provider's credential; deliveries are admins'
    public("webhook"),
    policy("webhook.list", ADMINS, R.AUTHENTICATED),
    policy("webhook.replay", ADMINS, R.AUTHENTICATED),
    # payments: a patient pays; the payer and admins read; admins set prices, approve refunds
    policy("payment.create", PATIENTS, R.AUTHENTICATED),
    policy("payment.list", ANYONE, R.OWNER, R.ADMIN, target="payment"),
    policy("payment.read", ANYONE, R.OWNER, R.ADMIN, target="payment"),
    policy("payment.refund", PATIENTS | ADMINS, R.OWNER, R.ADMIN, target="payment"),
    policy("payment.refund_approve", ADMINS, R.AUTHENTICATED),
    policy("price.list", ANYONE, R.AUTHENTICATED),
    policy("price.set", ADMINS, R.AUTHENTICATED),
    # subscriptions: plans for everyone signed in, defined by admins; one's own subscription
    policy("plan.list", ANYONE, R.AUTHENTICATED),
    policy("plan.set", ADMINS, R.AUTHENTICATED),
    self_service("subscription.self", PATIENTS),
    # administration: the audit trail and the PHI keys
    policy("audit.list", ADMINS, R.AUTHENTICATED),
    policy("audit.verify", ADMINS, R.AUTHENTICATED),
    policy("phi.rotate", ADMINS, R.AUTHENTICATED),
    # accounts and sign-in (api/controllers/auth/, account.py): credentials are the check
    public("signup"),
    public("verify_email"),
    public("login"),
    public("mfa"),
    public("refresh"),
    public("password_reset_request"),
    public("password_reset_confirm"),
    public("login_code_request"),
    public("login_code_verify"),
    self_service("auth.logout"),
    self_service("auth.totp_setup", DOCTORS | ADMINS),
    self_service("auth.totp_enable", DOCTORS | ADMINS),
    self_service("auth.totp_disable", DOCTORS | ADMINS),
    self_service("account.read"),
    self_service("account.update"),
)

POLICIES: dict[str, Policy] = {entry.name: entry for entry in _TABLE}
if len(POLICIES) != len(_TABLE):  # pragma: no cover - guards the table's own edits
    raise ValueError("two policies share a name")


def policy_named(name: object) -> Policy:
    found = POLICIES.get(name) if isinstance(name, str) else None
    if found is None:
        raise UnknownPolicy(f"no access policy named {name!r}")
    return found


def check_role(principal: Principal, rule: Policy) -> None:
    """The role rule; raises Forbidden. Says which roles may, which reveals nothing."""
    if principal.role not in rule.roles:
        names = ", ".join(sorted(role.value for role in rule.roles))
        raise Forbidden(f"this action is limited to: {names}")


def authorize(
    principal: Principal, policy_name: str | Policy, relations: Relation | Iterable[Relation]
) -> Relation:
    """Both rules for one target; returns the relation that granted access.

    ``relations`` is how the caller stands to the loaded target: empty when the
    target does not exist, so "missing" and "not yours" raise the same NotFound.
    """
    rule = policy_name if isinstance(policy_name, Policy) else policy_named(policy_name)
    check_role(principal, rule)
    if not rule.needs_target:
        return rule.relations[0]
    held = {relations} if isinstance(relations, Relation) else set(relations)
    for relation in rule.relations:
        if relation in held:
            return relation
    raise NotFound(f"{rule.target} not found")


def is_admin_read_of_patient_data(rule: Policy, granted: Relation) -> bool:
    """True when only the admin relation let the caller see patient data: flagged in logs."""
    return rule.patient_data and granted is Relation.ADMIN


class Access(msgspec.Struct, frozen=True):
    """A caller under one route's policy: what a service needs to apply the relation rule.

    The API builds it from the route's own ``opt["policy"]``, so the rule a
    service applies is always the one the route declared.
    """

    principal: Principal
    policy: Policy

    def authorize(self, relations: Relation | Iterable[Relation]) -> Relation:
        return authorize(self.principal, self.policy, relations)

    def sees_all(self) -> bool:
        """For a list: whether the admin relation grants every row, so no filter by party applies.

        Everyone else sees the rows they stand in a relation to (their own).
        """
        check_role(self.principal, self.policy)
        return self.principal.is_admin and Relation.ADMIN in self.policy.relations

    @property
    def user_uuid(self) -> uuid.UUID | None:
        return user_uuid(self.principal)


def user_uuid(principal: Principal) -> uuid.UUID | None:
    """The caller's account id; None for a token whose subject is no account (an operator's)."""
    try:
        return uuid.UUID(principal.user_id)
    except ValueError:
        return None


def _with_admin(principal: Principal, found: set[Relation]) -> frozenset[Relation]:
    if principal.is_admin:
        found.add(Relation.ADMIN)
    return frozenset(found)


def owner_relations(principal: Principal, owner_id: str | None) -> frozenset[Relation]:
    """How the caller stands to what they may have created; ``None``: there is no such thing."""
    if owner_id is None:
        return frozenset()
    return _with_admin(principal, {Relation.OWNER} if owner_id == principal.user_id else set())


def party_relations(
    principal: Principal, parties: Iterable[uuid.UUID | None] | None
) -> frozenset[Relation]:
    """How the caller stands to a connection between ``parties``; ``None``: no such connection."""
    if parties is None:
        return frozenset()
    caller = user_uuid(principal)
    is_party = caller is not None and caller in set(parties)
    return _with_admin(principal, {Relation.PARTY} if is_party else set())


def patient_relations(
    principal: Principal, patient_id: uuid.UUID | None, *, connected: bool
) -> frozenset[Relation]:
    """How the caller stands to a patient's data; ``connected``: an active connection links them.

    ``patient_id`` None: there is no such patient.
    """
    if patient_id is None:
        return frozenset()
    found: set[Relation] = set()
    if user_uuid(principal) == patient_id:
        found.add(Relation.SELF)
    if connected and principal.role is Role.DOCTOR:
        found.add(Relation.CONNECTED_DOCTOR)
    return _with_admin(principal, found)
