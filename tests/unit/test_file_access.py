"""Reading, listing, deleting and retaining patient files of every kind, through in-memory fakes:
who may do what per kind (the policies' table), what each access leaves on the trail."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from domain.adapters.bootstrap import Services
from domain.documents.kind import DOCUMENTS
from domain.errors import Conflict, Forbidden, NotFound, ValidationFailed
from domain.files.deletion import delete_file
from domain.files.kind import FileKind
from domain.files.reading import file_content, list_files, read_file
from domain.files.retention import unpin_files
from domain.files.storing import store_upload
from domain.files.upload import upload_file
from domain.identity import Principal, Role
from domain.records.kind import RECORDS
from domain.records.proofs import export_proof
from domain.records.verification import verify_record
from domain.wiring import MissingDependency, dependencies_of, inject
from tests.fakes.audit import audited
from tests.fakes.crypto import fake_pdf
from tests.fakes.pipeline import CALLER, FilePlatform, access, joined, receiving

PDF = fake_pdf(pages=2)


class Cast:
    """A patient with a record and a document, their connected doctor, and strangers."""

    def __init__(self, platform: FilePlatform) -> None:
        self.platform = platform

    async def setup(self) -> Cast:
        platform = self.platform
        self.patient = await platform.person(Role.PATIENT)
        self.other_patient = await platform.person(Role.PATIENT)
        self.doctor = await platform.person(Role.DOCTOR)
        self.stranger = await platform.person(Role.DOCTOR)
        self.admin = await platform.person(Role.ADMIN)
        await platform.connect(self.doctor, self.patient)
        self.record = await self.stored(RECORDS, self.patient)
        self.document = await self.stored(DOCUMENTS, self.patient)
        return self

    async def stored(self, kind: FileKind, patient: Principal, **fields: str) -> uuid.UUID:
        if kind is RECORDS:
            form = {"patientId": patient.user_id, "recordType": "LAB_RESULT", **fields}
            form.setdefault("description", "Lipid panel")
            receive = receiving(form, b"client-encrypted " + uuid.uuid4().bytes)
        else:
            receive = receiving({"patientId": patient.user_id}, PDF, "scan.pdf")
        policy = access(patient, kind.policies.upload)
        submission = await self.platform.cases.run(upload_file, kind, policy, CALLER, receive, None)
        self.platform.clock.advance(1)  # stored one after the other: newest first is defined
        await self.platform.run_store(kind, submission.job.id)
        return uuid.UUID(submission.job.payload["uploadId"])

    def file_of(self, kind: FileKind) -> uuid.UUID:
        return self.record if kind is RECORDS else self.document


@pytest.fixture
async def cast() -> Cast:
    return await Cast(FilePlatform()).setup()


def trail(cast: Cast) -> list[tuple[str, str | None]]:
    return [(e.action, e.resource_id) for e in audited(cast.platform.uow.database)]


async def run(cast: Cast, use_case, kind: FileKind, who: Principal, policy: str, *args):
    return await cast.platform.cases.run(use_case, kind, access(who, policy), CALLER, *args)


# --- who may read what -----------------------------------------------------------------------

READS = [
    # (kind, policy, use case, who, outcome)
    (RECORDS, "record.read", read_file, "patient", None),
    (RECORDS, "record.read", read_file, "doctor", None),
    (RECORDS, "record.read", read_file, "admin", None),
    (RECORDS, "record.read", read_file, "stranger", NotFound),
    (RECORDS, "record.read", read_file, "other_patient", NotFound),
    (RECORDS, "record.content", file_content, "patient", None),
    (RECORDS, "record.content", file_content, "doctor", None),
    (RECORDS, "record.content", file_content, "admin", Forbidden),  # metadata, never content
    (RECORDS, "record.content", file_content, "stranger", NotFound),
    (DOCUMENTS, "document.read", file_content, "patient", None),
    (DOCUMENTS, "document.read", file_content, "doctor", None),
    (DOCUMENTS, "document.read", file_content, "admin", Forbidden),
    (DOCUMENTS, "document.read", file_content, "other_patient", NotFound),
]


@pytest.mark.parametrize(
    ("kind", "policy", "use_case", "who", "refusal"),
    READS,
    ids=[f"{policy}-{who}" for _, policy, _, who, _ in READS],
)
async def test_who_reads_a_file_is_the_kinds_policy_and_every_read_is_audited(
    cast, kind, policy, use_case, who, refusal
) -> None:
    file_id = cast.file_of(kind)
    before = trail(cast)
    caller = getattr(cast, who)

    if refusal is not None:
        with pytest.raises(refusal):
            await run(cast, use_case, kind, caller, policy, file_id)
        assert trail(cast) == before  # the API's refusal audit records it, not the use case
        return
    found = await run(cast, use_case, kind, caller, policy, file_id)

    action = "read" if use_case is read_file else kind.content_action
    assert trail(cast) == [*before, (f"{kind.name}.{action}", str(file_id))]
    if use_case is file_content:
        opened, pieces = found
        assert len(await joined(pieces)) == opened.file.size_bytes
    else:
        assert found.details == {"description": "Lipid panel"}


async def test_a_missing_file_is_refused_like_one_the_caller_may_not_see(cast) -> None:
    for kind, policy in ((RECORDS, "record.read"), (DOCUMENTS, "document.read")):
        with pytest.raises(NotFound):
            await run(cast, file_content, kind, cast.patient, policy, uuid.uuid4())
    with pytest.raises(NotFound):  # a record's id is not a document's
        await run(cast, file_content, DOCUMENTS, cast.patient, "document.read", cast.record)


async def test_a_records_own_checks_are_audited_as_theirs(cast) -> None:
    policy = access(cast.admin, "record.read")
    verification = await cast.platform.cases.run(verify_record, policy, CALLER, cast.record)
    with pytest.raises(Conflict) as not_batched:
        await cast.platform.cases.run(export_proof, policy, CALLER, cast.record)

    assert verification.content.status.value == "ok"
    assert verification.proof.status.value == "pending"
    assert not_batched.value.code == "not_batched"
    assert trail(cast)[-2:] == [
        ("record.verify", str(cast.record)),
        ("record.proof", str(cast.record)),
    ]


# --- listing ---------------------------------------------------------------------------------


async def test_a_patient_lists_their_own_by_default_and_a_doctor_names_the_patient(cast) -> None:
    for kind in (RECORDS, DOCUMENTS):
        mine, _ = await run(
            cast, list_files, kind, cast.patient, kind.policies.list, None, {}, 20, None
        )
        assert [opened.file.id for opened in mine] == [cast.file_of(kind)]
        with pytest.raises(ValidationFailed):
            await run(cast, list_files, kind, cast.doctor, kind.policies.list, None, {}, 20, None)
        with pytest.raises(NotFound):
            patient = uuid.UUID(cast.patient.user_id)
            await run(
                cast, list_files, kind, cast.stranger, kind.policies.list, patient, {}, 20, None
            )


async def test_a_list_filters_on_public_details_pages_and_opens_phi_for_the_named_patient(cast):
    await cast.stored(RECORDS, cast.patient, recordType="IMAGING", description="Chest X-ray")
    await cast.stored(RECORDS, cast.patient, recordType="LAB_RESULT", description="HbA1c")
    patient = uuid.UUID(cast.patient.user_id)
    labs = {"record_type": "LAB_RESULT"}

    first, cursor = await run(
        cast, list_files, RECORDS, cast.doctor, "record.list", patient, labs, 1, None
    )
    rest, end = await run(
        cast, list_files, RECORDS, cast.doctor, "record.list", patient, labs, 1, cursor
    )

    assert [o.details["description"] for o in first + rest] == ["HbA1c", "Lipid panel"]
    assert end is None
    assert trail(cast)[-2:] == [("record.list", str(patient))] * 2


async def test_an_admins_list_of_every_patient_keeps_phi_sealed_and_audits_each_patient(cast):
    await cast.stored(RECORDS, cast.other_patient)
    cast.platform.cipher.opened.clear()

    everyone, _ = await run(
        cast, list_files, RECORDS, cast.admin, "record.list", None, {}, 20, None
    )

    assert {o.file.patient_id for o in everyone} == {
        uuid.UUID(cast.patient.user_id),
        uuid.UUID(cast.other_patient.user_id),
    }
    assert all(o.details == {} for o in everyone) and cast.platform.cipher.opened == []
    assert sorted(trail(cast)[-2:]) == sorted(
        ("record.list", p.user_id) for p in (cast.patient, cast.other_patient)
    )


# --- deletion and retention ------------------------------------------------------------------

DELETES = [
    (RECORDS, "patient", None),
    (RECORDS, "admin", None),
    (RECORDS, "doctor", Forbidden),
    (RECORDS, "other_patient", NotFound),
    (DOCUMENTS, "patient", None),
    (DOCUMENTS, "doctor", Forbidden),
    (DOCUMENTS, "admin", Forbidden),
]


@pytest.mark.parametrize(
    ("kind", "who", "refusal"), DELETES, ids=[f"{k.name}-{who}" for k, who, _ in DELETES]
)
async def test_who_deletes_is_the_kinds_policy(cast, kind, who, refusal) -> None:
    file_id = cast.file_of(kind)
    caller = getattr(cast, who)
    policy = kind.policies.delete

    if refusal is not None:
        with pytest.raises(refusal):
            await run(cast, delete_file, kind, caller, policy, file_id)
        assert cast.platform.files(kind).row(file_id).file.deleted_at is None
        return
    await run(cast, delete_file, kind, caller, policy, file_id)

    row = cast.platform.files(kind).row(file_id)
    assert row.file.deleted_at is not None and row.deleted_by == uuid.UUID(caller.user_id)
    assert trail(cast)[-1] == (f"{kind.name}.delete", str(file_id))
    read = RECORDS.policies.content if kind is RECORDS else DOCUMENTS.policies.content
    with pytest.raises(NotFound):
        await run(cast, file_content, kind, cast.patient, read, file_id)
    listed, _ = await run(
        cast, list_files, kind, cast.patient, kind.policies.list, None, {}, 20, None
    )
    assert listed == []
    with pytest.raises(NotFound):  # once
        await run(cast, delete_file, kind, caller, policy, file_id)


async def test_deleted_content_is_unpinned_after_retention_unless_a_live_file_shares_it(cast):
    platform = cast.platform
    twin = await cast.stored(DOCUMENTS, cast.patient)  # encrypted anew: its own CID
    for kind, file_id in ((RECORDS, cast.record), (DOCUMENTS, cast.document)):
        await run(cast, delete_file, kind, cast.patient, kind.policies.delete, file_id)
    record = platform.files(RECORDS).row(cast.record).file
    document = platform.files(DOCUMENTS).row(cast.document).file

    not_yet = await unpin_files(platform.uow, platform.content, platform.clock, 30)
    platform.clock.advance(31 * 24 * 3600)
    report = await unpin_files(platform.uow, platform.content, platform.clock, 30)
    again = await unpin_files(platform.uow, platform.content, platform.clock, 30)

    assert not_yet == {"records": 0, "documents": 0}
    assert report == {"records": 1, "documents": 1}
    assert again == {"records": 0, "documents": 0}
    assert record.cid not in platform.content.pinned and document.cid not in platform.content.pinned
    assert platform.files(DOCUMENTS).row(twin).file.cid in platform.content.pinned


async def test_a_cid_a_live_file_still_uses_stays_pinned(cast) -> None:
    platform = cast.platform
    same = b"the same client-encrypted bytes"
    ids = []
    for _ in range(2):
        form = {"patientId": cast.patient.user_id, "recordType": "OTHER"}
        policy = access(cast.patient, "record.create")
        submission = await platform.cases.run(
            upload_file, RECORDS, policy, CALLER, receiving(form, same), None
        )
        await platform.run_store(RECORDS, submission.job.id)
        ids.append(uuid.UUID(submission.job.payload["uploadId"]))
    await run(cast, delete_file, RECORDS, cast.patient, "record.delete", ids[0])
    platform.clock.advance(31 * 24 * 3600)

    report = await unpin_files(platform.uow, platform.content, platform.clock, 30)

    assert report["records"] == 0
    assert platform.files(RECORDS).row(ids[0]).file.cid in platform.content.pinned


# --- wiring ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "use_case",
    [upload_file, read_file, list_files, file_content, delete_file, verify_record, export_proof],
    ids=lambda use_case: use_case.__name__,
)
def test_every_use_case_asks_only_for_what_the_composition_root_provides(use_case) -> None:
    provided = {f.name for f in dataclasses.fields(Services) if not f.name.startswith("_")}
    assert set(dependencies_of(use_case)) <= (provided - {"uow"}) | {"uow_factory"}


def test_a_kinds_storing_job_is_the_one_handler_and_names_it_when_unwired() -> None:
    for kind in (RECORDS, DOCUMENTS):
        assert kind.store_job.handler.func is store_upload
        with pytest.raises(MissingDependency, match=r"domain\.files\.storing\.store_upload needs"):
            inject(kind.store_job.handler, {})
