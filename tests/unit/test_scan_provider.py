"""The OCR provider's answers and the scans it never answers, through fakes of the stores:
an answer becomes the reading once, a late or second one changes nothing, a reference we
never sent is refused for good, and the sweep fails only the scans awaiting too long."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from domain.auditing import AuditContext
from domain.clock import ManualClock
from domain.errors import NotFound, PermanentFailure
from domain.identity import Principal, Role
from domain.medicines.model import DosageForm, Medicine
from domain.policies import Access, policy_named
from domain.scans.awaiting import OCR_COMPLETED, OCR_FAILED, ProviderStatus
from domain.scans.drafts import scan_reading
from domain.scans.files import StoredScan
from domain.scans.jobs import SCAN_PROVIDER_TIMEOUT, plan_timeouts
from domain.scans.kind import SCANS
from domain.scans.provider import on_ocr_completed, on_ocr_failed, time_out_scans
from domain.sealing import Sealed
from domain.settings import Settings
from domain.webhooks.model import WebhookEvent
from tests.fakes.audit import FakeAuditLog, audited
from tests.fakes.connections import FakeConnectionRepository
from tests.fakes.database import FakeUnitOfWorkFactory
from tests.fakes.files import files_of
from tests.fakes.jobs import FakeJobRepository, RecordingSender
from tests.fakes.medication import FakeMedicineRepository
from tests.fakes.patients import FakePatientRepository
from tests.fakes.scans import FakeProviderRequests, FakeScanReadings

START = datetime(2031, 3, 9, 9, 0, tzinfo=UTC)
PATIENT = uuid.UUID(int=1)
LINES = [
    {"text": "Amoxicillin 500 mg capsule", "box": [40, 200, 520, 236], "confidence": 0.98},
    {"text": "1 capsule TID x 7 days", "box": [40, 250, 480, 286], "confidence": 0.97},
]


class Scene:
    def __init__(self) -> None:
        self.clock = ManualClock(START)
        self.uow = FakeUnitOfWorkFactory(
            {
                "files": files_of([SCANS]),
                "scan_readings": FakeScanReadings,
                "scan_provider_requests": FakeProviderRequests,
                "medicines": FakeMedicineRepository,
                "audit": FakeAuditLog,
                "jobs": FakeJobRepository,
                "connections": FakeConnectionRepository,
                "patients": FakePatientRepository,
            },
            clock=self.clock,
        )
        self.settings = Settings(
            database_url="",
            redis_url="",
            jwt_secret="x" * 32,
            data_dir=".",  # type: ignore[arg-type]
            phi_keys={},
            phi_active_key_id="",
            ocr_provider_timeout_seconds=600.0,
        )

    async def sent_scan(self) -> tuple[uuid.UUID, uuid.UUID]:
        """A stored scan, sent to the provider now under a new reference."""
        scan_id, reference = uuid.uuid4(), uuid.uuid4()
        async with self.uow() as uow:
            await uow.files[SCANS.table].add(
                StoredScan(
                    id=scan_id,
                    patient_id=PATIENT,
                    uploaded_by=PATIENT,
                    job_id=uuid.uuid4(),
                    cid="fake",
                    size_bytes=1,
                    created_at=START,
                    data_key=Sealed(key_id="k1", blob=b"key"),
                    media_type="image/png",
                    page_count=1,
                )
            )
            if not await uow.medicines.listing(1, 0):
                await uow.medicines.add(
                    Medicine(
                        id=uuid.uuid4(),
                        generic_name="amoxicillin",
                        brand_names=("Amoxil",),
                        category="antibiotic",
                        dosage_form=DosageForm("capsule"),
                        strengths=("250 mg", "500 mg"),
                        atc_code=None,
                        created_at=START,
                        updated_at=START,
                    )
                )
            assert await uow.scan_provider_requests.start(scan_id, reference, self.clock.now())
        return scan_id, reference

    async def request(self, scan_id: uuid.UUID):
        async with self.uow() as uow:
            return await uow.scan_provider_requests.of_scan(scan_id)

    async def reading(self, scan_id: uuid.UUID):
        async with self.uow() as uow:
            return await uow.scan_readings.get(scan_id)

    async def answer(self, event_type: str, **data: object) -> str:
        event = WebhookEvent(
            delivery_id=uuid.uuid4(),
            provider="ocr",
            webhook_id=f"msg_{uuid.uuid4().hex}",
            type=event_type,
            data=data,
        )
        handler = on_ocr_completed if event_type == OCR_COMPLETED else on_ocr_failed
        return await handler(event, uow_factory=self.uow, clock=self.clock)

    async def sweep(self) -> dict:
        return await time_out_scans(
            None,  # type: ignore[arg-type]  # the handler reads nothing of its job
            uow_factory=self.uow,
            clock=self.clock,
            settings=self.settings,
        )


async def test_an_answer_becomes_the_reading_once_by_the_engines_parser() -> None:
    scene = Scene()
    scan_id, reference = await scene.sent_scan()

    assert await scene.answer(OCR_COMPLETED, reference=str(reference), lines=LINES) == "read"

    reading = await scene.reading(scan_id)
    assert reading.engine == "provider"
    [item] = reading.draft.items
    assert (item.medicine.name, item.strength.value, item.notation) == (
        "amoxicillin",
        "500 mg",
        "TID",
    )
    assert (await scene.request(scan_id)).status is ProviderStatus.ANSWERED
    # the provider answering again (another webhook id) changes nothing
    other = [{**LINES[0], "text": "Paracetamol 500 mg"}]
    assert await scene.answer(OCR_COMPLETED, reference=str(reference), lines=other) == "duplicate"
    assert await scene.reading(scan_id) == reading


async def test_the_sweep_fails_only_scans_awaiting_too_long_and_a_late_answer_changes_nothing():
    scene = Scene()
    old_scan, old_reference = await scene.sent_scan()
    scene.clock.advance(9 * 60)
    new_scan, _ = await scene.sent_scan()
    scene.clock.advance(2 * 60)  # the first waited 11 minutes, the second 2

    sweep = await scene.sweep()

    assert sweep == {"timedOut": 1, "scanIds": [str(old_scan)]}
    timed_out = await scene.request(old_scan)
    assert (timed_out.status, timed_out.reason) == (
        ProviderStatus.TIMED_OUT,
        "ocr_provider_timeout",
    )
    assert (await scene.request(new_scan)).status is ProviderStatus.AWAITING
    assert [entry.action for entry in audited(scene.uow.database)] == ["scan.provider_timeout"]
    late = await scene.answer(OCR_COMPLETED, reference=str(old_reference), lines=LINES)
    assert late == "late"
    assert await scene.reading(old_scan) is None
    assert (await scene.request(old_scan)).status is ProviderStatus.TIMED_OUT


async def test_the_planner_enqueues_a_sweep_only_when_a_scan_is_overdue() -> None:
    scene = Scene()
    sender = RecordingSender()
    plan = {"uow_factory": scene.uow, "sender": sender, "clock": scene.clock}
    await scene.sent_scan()
    assert await plan_timeouts(**plan, settings=scene.settings) is None
    scene.clock.advance(11 * 60)

    submission = await plan_timeouts(**plan, settings=scene.settings)

    assert submission.job.kind == SCAN_PROVIDER_TIMEOUT.name


async def test_a_failure_report_fails_the_scan_and_the_reading_says_why() -> None:
    scene = Scene()
    scan_id, reference = await scene.sent_scan()
    patient = Access(Principal(user_id=str(PATIENT), role=Role.PATIENT), policy_named("scan.read"))
    audit = AuditContext(actor_id=str(PATIENT), actor_role="patient")

    with pytest.raises(NotFound) as pending:
        await scan_reading(patient, audit, scan_id, uow_factory=scene.uow)
    assert pending.value.code == "reading_pending"
    assert await scene.answer(OCR_FAILED, reference=str(reference), code="unreadable") == "failed"

    with pytest.raises(NotFound) as failed:
        await scan_reading(patient, audit, scan_id, uow_factory=scene.uow)
    assert failed.value.code == "ocr_provider_failed"


@pytest.mark.parametrize(
    ("event_type", "data", "code"),
    [
        (OCR_COMPLETED, {"reference": str(uuid.UUID(int=9)), "lines": LINES}, "unknown_reference"),
        (OCR_FAILED, {"reference": str(uuid.UUID(int=9))}, "unknown_reference"),
        (OCR_COMPLETED, {"reference": "not-a-uuid", "lines": LINES}, "callback_invalid"),
        (OCR_COMPLETED, {"lines": LINES}, "callback_invalid"),
        (OCR_COMPLETED, {"reference": str(uuid.UUID(int=9)), "lines": "text"}, "callback_invalid"),
    ],
)
async def test_what_no_retry_mends_is_refused_for_good(event_type, data, code) -> None:
    scene = Scene()
    await scene.sent_scan()

    with pytest.raises(PermanentFailure) as refused:
        await scene.answer(event_type, **data)

    assert refused.value.code == code
