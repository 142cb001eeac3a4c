"""The access policy table and the two checks that apply it, without any IO."""

from __future__ import annotations

import uuid

import pytest

from domain.errors import Forbidden, NotFound
from domain.identity import Principal, Role
from domain.policies import (
    ANYONE,
    POLICIES,
    TARGETLESS,
    Access,
    Relation,
    UnknownPolicy,
    authorize,
    is_admin_read_of_patient_data,
    owner_relations,
    party_relations,
    patient_relations,
    policy,
    policy_named,
    public,
    self_service,
)

PATIENT_ID, DOCTOR_ID, ADMIN_ID = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
PATIENT = Principal(user_id=str(PATIENT_ID), role=Role.PATIENT)
DOCTOR = Principal(user_id=str(DOCTOR_ID), role=Role.DOCTOR)
ADMIN = Principal(user_id=str(ADMIN_ID), role=Role.ADMIN)
R = Relation

# The role rule of every policy, spelled out: a change to who may call what shows up here.
EXPECTED_ROLES: dict[str, set[Role]] = {
    "job.list": set(Role),
    "job.read": set(Role),
    "job.events": set(Role),
    "job.cancel": set(Role),
    "job.retry": {Role.ADMIN},
    "notification.send_email": {Role.ADMIN},
    "notice.read": set(Role),
    "connection.list": set(Role),
    "connection.request": {Role.PATIENT},
    "connection.accept": {Role.DOCTOR},
    "connection.reject": {Role.DOCTOR},
    "connection.revoke": {Role.PATIENT, Role.DOCTOR},
    "connection.invite": {Role.DOCTOR},
    "connection.accept_invitation": {Role.PATIENT},
    "patient.read": set(Role),
    "patient.update": {Role.PATIENT},
    "clinical_notes.read": {Role.PATIENT, Role.DOCTOR},
    "clinical_notes.write": {Role.DOCTOR},
    "record.create": {Role.PATIENT, Role.DOCTOR},
    "record.list": set(Role),
    "record.read": set(Role),
    "record.content": {Role.PATIENT, Role.DOCTOR},
    "record.delete": {Role.PATIENT, Role.ADMIN},
    "document.create": {Role.PATIENT, Role.DOCTOR},
    "document.list": {Role.PATIENT, Role.DOCTOR},
    "document.read": {Role.PATIENT, Role.DOCTOR},
    "document.delete": {Role.PATIENT},
    "scan.create": {Role.PATIENT, Role.DOCTOR},
    "scan.list": {Role.PATIENT, Role.DOCTOR},
    "scan.read": {Role.PATIENT, Role.DOCTOR},
    "scan.delete": {Role.PATIENT},
    "scan.confirm": {Role.PATIENT, Role.DOCTOR},
    "vital.record": {Role.PATIENT, Role.DOCTOR},
    "vital.list": {Role.PATIENT, Role.DOCTOR},
    "alert.inbox": {Role.PATIENT, Role.DOCTOR},
    "alert.list": {Role.PATIENT, Role.DOCTOR},
    "alert.read": {Role.PATIENT, Role.DOCTOR},
    "alert.acknowledge": {Role.DOCTOR},
    "alert.resolve": {Role.DOCTOR},
    "alert_rules.read": {Role.PATIENT, Role.DOCTOR},
    "alert_rules.write": {Role.DOCTOR},
    "prescription.create": {Role.DOCTOR},
    "prescription.list": {Role.PATIENT, Role.DOCTOR},
    "prescription.read": {Role.PATIENT, Role.DOCTOR},
    "prescription.write": {Role.PATIENT, Role.DOCTOR},
    "dose.list": {Role.PATIENT, Role.DOCTOR},
    "dose.mark": {Role.PATIENT},
    "patient.time_zone": {Role.PATIENT},
    "adherence.read": set(Role),
    "doctor.list": set(Role),
    "audit.list": {Role.ADMIN},
    "audit.verify": {Role.ADMIN},
    "phi.rotate": {Role.ADMIN},
    "webhook.list": {Role.ADMIN},
    "webhook.replay": {Role.ADMIN},
    "payment.create": {Role.PATIENT},
    "payment.list": set(Role),
    "payment.read": set(Role),
    "payment.refund": {Role.PATIENT, Role.ADMIN},
    "payment.refund_approve": {Role.ADMIN},
    "availability.write": {Role.DOCTOR},
    "availability.read": set(Role),
    "consultation.hold": {Role.PATIENT},
    "consultation.read": set(Role),
    "consultation.list": set(Role),
    "consultation.cancel": {Role.PATIENT, Role.DOCTOR},
    "consultation.conduct": {Role.DOCTOR},
    "consultation.reschedule": {Role.PATIENT},
    "consultation.notes_write": {Role.DOCTOR},
    "consultation.notes_read": {Role.PATIENT, Role.DOCTOR},
    "consultation.prescribe": {Role.DOCTOR},
    "consultation.prescriptions": {Role.PATIENT, Role.DOCTOR},
    "price.list": set(Role),
    "price.set": {Role.ADMIN},
    "plan.list": set(Role),
    "plan.set": {Role.ADMIN},
}


@pytest.mark.parametrize("name", sorted(EXPECTED_ROLES))
def test_each_policy_allows_exactly_the_expected_roles(name) -> None:
    assert set(POLICIES[name].roles) == EXPECTED_ROLES[name]


def test_every_policy_on_someones_data_is_spelled_out_here() -> None:
    """A new policy with a target must be added to EXPECTED_ROLES: who may call it is a decision.

    Only sign-in and own-account policies (public, or the caller's self) may be left out.
    """
    assert set(POLICIES) >= set(EXPECTED_ROLES)
    unknown = {name for name in set(POLICIES) - set(EXPECTED_ROLES) if POLICIES[name].needs_target}
    assert not unknown


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_every_policy_is_well_formed(name) -> None:
    rule = POLICIES[name]
    assert rule.name == name and "." in name
    assert rule.roles and rule.relations
    if rule.needs_target:
        assert rule.target and not TARGETLESS.intersection(rule.relations)
    else:
        assert len(rule.relations) == 1
    if rule.public:
        assert name.startswith("public.")


def test_patient_data_policies_are_flagged() -> None:
    flagged = {name for name, rule in POLICIES.items() if rule.patient_data}
    assert flagged == {
        "patient.read",
        "patient.update",
        "clinical_notes.read",
        "clinical_notes.write",
        "record.create",
        "record.list",
        "record.read",
        "record.content",
        "record.delete",
        "document.create",
        "document.list",
        "document.read",
        "document.delete",
        "scan.create",
        "scan.list",
        "scan.read",
        "scan.delete",
        "scan.confirm",
        "vital.record",
        "vital.list",
        "alert.list",
        "alert.read",
        "alert.acknowledge",
        "alert.resolve",
        "alert_rules.read",
        "alert_rules.write",
        "prescription.create",
        "prescription.list",
        "prescription.read",
        "prescription.write",
        "dose.list",
        "dose.mark",
        "patient.time_zone",
        "adherence.read",
        "consultation.notes_write",
        "consultation.notes_read",
        "consultation.prescribe",
        "consultation.prescriptions",
    }


# --- authorize -------------------------------------------------------------------------------


def test_a_wrong_role_is_forbidden_whatever_the_relation() -> None:
    with pytest.raises(Forbidden, match="limited to: patient"):
        authorize(DOCTOR, "patient.update", {R.SELF})


def test_a_missing_relation_is_the_not_found_of_a_missing_target() -> None:
    with pytest.raises(NotFound, match=r"^patient not found$"):
        authorize(DOCTOR, "patient.read", set())
    with pytest.raises(NotFound, match=r"^job not found$"):
        authorize(PATIENT, "job.read", owner_relations(PATIENT, "someone-else"))


def test_an_admin_sees_nothing_that_does_not_exist() -> None:
    with pytest.raises(NotFound):
        authorize(ADMIN, "job.read", owner_relations(ADMIN, None))


def test_the_preferred_relation_is_the_one_granted() -> None:
    """An admin reading their own job reads it as its owner, not as an admin."""
    assert authorize(ADMIN, "job.read", owner_relations(ADMIN, ADMIN.user_id)) is R.OWNER
    assert authorize(ADMIN, "job.read", owner_relations(ADMIN, "someone")) is R.ADMIN


def test_a_targetless_policy_checks_only_the_role() -> None:
    assert authorize(PATIENT, "connection.request", ()) is R.AUTHENTICATED
    with pytest.raises(Forbidden):
        authorize(DOCTOR, "connection.request", ())


def test_a_single_relation_may_be_passed_bare() -> None:
    assert authorize(PATIENT, "patient.read", R.SELF) is R.SELF


def test_an_unknown_policy_is_a_programming_error() -> None:
    with pytest.raises(UnknownPolicy):
        policy_named("patient.delete")
    with pytest.raises(UnknownPolicy):
        policy_named(None)
    with pytest.raises(UnknownPolicy):
        authorize(PATIENT, "nope", ())


@pytest.mark.parametrize(
    ("principal", "relations", "flagged"),
    [
        (ADMIN, {R.ADMIN}, True),
        (PATIENT, {R.SELF}, False),
        (DOCTOR, {R.CONNECTED_DOCTOR}, False),
    ],
)
def test_an_admins_read_of_patient_data_is_flagged(principal, relations, flagged) -> None:
    rule = POLICIES["patient.read"]
    granted = authorize(principal, rule, relations)
    assert is_admin_read_of_patient_data(rule, granted) is flagged


def test_an_admin_relation_to_something_else_is_not_a_patient_data_read() -> None:
    rule = POLICIES["job.read"]
    assert not is_admin_read_of_patient_data(rule, authorize(ADMIN, rule, {R.ADMIN}))


# --- how a caller stands to a resource ---------------------------------------------------------


def test_patient_relations() -> None:
    assert patient_relations(PATIENT, PATIENT_ID, connected=False) == {R.SELF}
    assert patient_relations(DOCTOR, PATIENT_ID, connected=True) == {R.CONNECTED_DOCTOR}
    assert patient_relations(DOCTOR, PATIENT_ID, connected=False) == set()
    assert patient_relations(ADMIN, PATIENT_ID, connected=False) == {R.ADMIN}
    assert patient_relations(ADMIN, None, connected=False) == set()


def test_only_a_doctor_is_a_connected_doctor() -> None:
    other = Principal(user_id=str(uuid.uuid4()), role=Role.PATIENT)
    assert patient_relations(other, PATIENT_ID, connected=True) == set()


def test_party_relations() -> None:
    parties = (PATIENT_ID, DOCTOR_ID)
    assert party_relations(PATIENT, parties) == {R.PARTY}
    assert party_relations(DOCTOR, parties) == {R.PARTY}
    assert party_relations(ADMIN, parties) == {R.ADMIN}
    assert party_relations(Principal(user_id=str(uuid.uuid4()), role=Role.DOCTOR), parties) == set()
    assert party_relations(DOCTOR, None) == set()
    assert party_relations(DOCTOR, (None, DOCTOR_ID)) == {R.PARTY}  # an open invitation


def test_a_token_subject_that_is_no_account_relates_to_nothing() -> None:
    operator = Principal(user_id="ops-1", role=Role.PATIENT)
    assert patient_relations(operator, PATIENT_ID, connected=True) == set()
    assert party_relations(operator, (PATIENT_ID, DOCTOR_ID)) == set()
    assert owner_relations(operator, "ops-1") == {R.OWNER}


# --- Access: a caller under one route's policy -------------------------------------------------


def test_access_applies_the_routes_own_policy() -> None:
    access = Access(principal=DOCTOR, policy=POLICIES["clinical_notes.write"])
    assert access.authorize({R.CONNECTED_DOCTOR}) is R.CONNECTED_DOCTOR
    with pytest.raises(NotFound):
        access.authorize({R.PARTY})
    assert access.user_uuid == DOCTOR_ID


@pytest.mark.parametrize(
    ("principal", "sees_all"), [(ADMIN, True), (DOCTOR, False), (PATIENT, False)]
)
def test_only_an_admin_lists_everyones(principal, sees_all) -> None:
    for name in ("job.list", "connection.list"):
        assert Access(principal=principal, policy=POLICIES[name]).sees_all() is sees_all


def test_listing_still_checks_the_role() -> None:
    rule = policy("thing.list", frozenset({Role.DOCTOR}), R.PARTY, R.ADMIN, target="thing")
    with pytest.raises(Forbidden):
        Access(principal=ADMIN, policy=rule).sees_all()


# --- building the table ------------------------------------------------------------------------


def test_helpers_for_public_and_self_service_endpoints() -> None:
    login = public("login")
    assert login.name == "public.login" and login.public and not login.needs_target
    assert login.roles == ANYONE
    me = self_service("me.read")
    assert not me.public and not me.needs_target and me.relations == (R.AUTHENTICATED,)


@pytest.mark.parametrize(
    "build",
    [
        lambda: policy("x.y", ANYONE),
        lambda: policy("x.y", ANYONE, R.SELF),
        lambda: policy("x.y", ANYONE, R.PUBLIC, R.SELF, target="x"),
    ],
    ids=["no-relation", "no-target", "mixed"],
)
def test_a_malformed_policy_is_refused_when_the_table_is_built(build) -> None:
    with pytest.raises(ValueError):
        build()
