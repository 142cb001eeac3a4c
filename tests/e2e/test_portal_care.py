"""The portal's medication, doctor and payment pages in a real browser against the running
platform (API, worker, scheduler; a local Bakong Open API): a patient marks a dose taken and
sees adherence change once the scheduler's roll-up ran; a doctor sees connected patients
riskiest first, acknowledges an alert and writes and activates a prescription; a patient
subscribes, scans nothing but sees the payment complete when Bakong reports it paid, and the
plan start. Every page visited is checked with axe-core and photographed at phone and
desktop widths (tests/support/browser.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import msgspec
import pytest
from playwright.sync_api import Page, expect

from tests.support.bakong import BakongServer, running_bakong
from tests.support.browser import (
    TIME_ZONE,
    Stack,
    bearer_by_api,
    chromium,
    new_context,
    photograph,
    sign_in,
    sign_up_by_api,
    start_stack,
    stop_stack,
    watch_console,
)
from tests.support.people import DOCTOR_CHANTHA, PATIENT_ALICE, PATIENT_BOREY, Person

pytestmark = pytest.mark.slow

API = "/api/v1"


@pytest.fixture
def bakong() -> Iterator[BakongServer]:
    with running_bakong() as server:
        yield server


@pytest.fixture
def stack(settings, bakong, log_dir) -> Iterator[Stack]:
    care = msgspec.structs.replace(
        settings,
        adherence_interval_seconds=0.5,  # the roll-up catches up within a second
        bakong_api_url=bakong.url,
        bakong_token=bakong.token,
        bakong_account_id="healthplat@aclb",
        payment_poll_interval_seconds=0.5,
    )
    running = start_stack(care, log_dir)
    yield running
    stop_stack(running)


def call(stack: Stack, method: str, path: str, who: dict[str, str], **body) -> dict:
    response = httpx.request(method, f"{stack.url}{API}{path}", headers=who, json=body or None)
    assert response.is_success, response.text
    return response.json() if response.content else {}


def connected(stack: Stack, doctor: Person, *patients: Person) -> dict[str, dict[str, str]]:
    """Accounts made, each patient connected to the doctor; their bearer headers by name."""
    sign_up_by_api(stack, doctor, role="doctor")
    who = {doctor.name: bearer_by_api(stack, doctor)}
    doctor_id = call(stack, "GET", "/me", who[doctor.name])["id"]
    for patient in patients:
        sign_up_by_api(stack, patient)
        who[patient.name] = bearer_by_api(stack, patient)
        asked = call(stack, "POST", "/connections", who[patient.name], doctorId=doctor_id)
        call(stack, "POST", f"/connections/{asked['id']}/accept", who[doctor.name])
    return who


def medicine_id(stack: Stack, who: dict[str, str], name: str, form: str) -> str:
    found = call(stack, "GET", f"/medicines?q={name}&limit=20", who)["items"]
    return next(m["id"] for m in found if m["genericName"] == name and m["dosageForm"] == form)


def prescribe_every_four_hours(stack: Stack, doctor: dict[str, str], patient_id: str) -> None:
    """An active prescription whose doses fall every 4 hours: one is always markable now."""
    zone = call(stack, "GET", f"/patients/{patient_id}/time-zone", doctor)["timeZone"]
    item = {
        "medicineId": medicine_id(stack, doctor, "paracetamol", "tablet"),
        "strength": "500 mg",
        "doseAmount": "1",
        "doseForm": "tablet",
        "frequency": "q4h",
        "startDate": datetime.now(ZoneInfo(zone)).date().isoformat(),
        "durationDays": 3,
    }
    written = call(stack, "POST", "/prescriptions", doctor, patientId=patient_id, items=[item])
    call(stack, "POST", f"/prescriptions/{written['id']}/activate", doctor)


def wait_for(check, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError("the condition never held")


# zones whose offsets are at most 4.5 h apart: in one of them it is now between 06:00 and 14:00
DEVICE_ZONES = (
    "Asia/Phnom_Penh",
    "Australia/Brisbane",
    "Pacific/Auckland",
    "America/Los_Angeles",
    "America/New_York",
    "America/Sao_Paulo",
    "Europe/Paris",
    "Asia/Kolkata",
)


def daytime_zone() -> str:
    """A device zone where it is morning or early afternoon now, so that a q4h prescription
    activated now still has a dose due today there (the adherence shown ends today)."""
    return next(zone for zone in DEVICE_ZONES if 6 <= datetime.now(ZoneInfo(zone)).hour < 14)


def test_a_patient_marks_doses_and_sees_adherence_change(stack: Stack) -> None:
    who = connected(stack, DOCTOR_CHANTHA, PATIENT_ALICE)
    alice_id = call(stack, "GET", "/me", who[PATIENT_ALICE.name])["id"]
    zone = daytime_zone()
    shown_zone = zone.replace("_", " ")
    problems: list[str] = []
    with chromium() as browser:
        page = new_context(browser, stack, time_zone=zone).new_page()
        console_errors = watch_console(page)
        sign_in(page, PATIENT_ALICE)
        page.get_by_role("link", name="Medication").click()
        expect(page.get_by_role("heading", name="Medication", level=1)).to_be_visible()
        expect(page.get_by_text("No doses in the next days.")).to_be_visible()
        expect(page.get_by_text("No doses were due in this period yet.")).to_be_visible()
        problems += photograph(page, "medication-empty")

        # the account's zone is UTC, the device's another: one click makes doses follow it
        page.get_by_role("button", name=f"Use {shown_zone}").click()
        expect(page.locator("#current-zone")).to_have_text(shown_zone)
        assert call(stack, "GET", f"/patients/{alice_id}/time-zone", who[PATIENT_ALICE.name]) == {
            "timeZone": zone
        }

        # the doctor prescribes; the doses appear, at their times in the browser's zone
        prescribe_every_four_hours(stack, who[DOCTOR_CHANTHA.name], alice_id)
        page.reload()
        doses = page.locator("li.dose")
        expect(doses.first).to_be_visible()
        first = doses.filter(has=page.get_by_role("button", name="Taken")).first
        dose_id = first.get_attribute("data-id")
        dose = next(
            d
            for d in call(stack, "GET", f"/patients/{alice_id}/doses", who[PATIENT_ALICE.name])[
                "items"
            ]
            if d["id"] == dose_id
        )
        local = datetime.fromisoformat(dose["dueAt"]).astimezone(ZoneInfo(zone))
        expect(first.locator(".dose-time")).to_have_text(local.strftime("%H:%M"))
        expect(first).to_contain_text("paracetamol")
        problems += photograph(page, "medication-doses")

        # taken: the roll-up job runs (scheduler), and the chart and its summary follow
        first.get_by_role("button", name="Taken").click()
        marked = page.locator(f'li.dose[data-id="{dose_id}"]')
        expect(marked.locator(".badge").first).to_have_text("taken")
        summary = page.locator("#adherence-summary")
        expect(summary).to_contain_text("100% of doses taken (1 of 1", timeout=30_000)
        expect(page.locator("svg.chart rect.bar.good")).to_have_count(1)
        page.get_by_text("The figures as a table").click()
        expect(page.locator("details.figures tbody tr").filter(has_text="100%")).to_have_count(1)

        # another skipped, with its reason
        second = doses.filter(has=page.get_by_role("button", name="Skip")).nth(1)
        second_id = second.get_attribute("data-id")
        second.get_by_role("button", name="Skip").click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_label("Reason").fill("Felt nauseous")
        problems += photograph(page, "skip-dose")
        dialog.get_by_role("button", name="Skip dose").click()
        skipped = page.locator(f'li.dose[data-id="{second_id}"]')
        expect(skipped.locator(".badge").first).to_have_text("skipped")
        expect(skipped).to_contain_text("Felt nauseous")
        # the period shown ends today: after 16:00 local a q4h prescription has no second dose
        # left today, and the one skipped is tomorrow's (in view: markable 12 h early), not
        # counted until its day comes
        skipped_day = next(
            d["localDate"]
            for d in call(stack, "GET", f"/patients/{alice_id}/doses", who[PATIENT_ALICE.name])[
                "items"
            ]
            if d["id"] == second_id
        )
        counted = skipped_day <= datetime.now(ZoneInfo(zone)).date().isoformat()
        tally = "50% of doses taken (1 of 2" if counted else "100% of doses taken (1 of 1"
        expect(summary).to_contain_text(tally, timeout=30_000)
        page.get_by_label("Per week (12 weeks)").check()  # 12 ISO weeks, this one's bar
        expect(page.locator("svg.chart > g[data-start]")).to_have_count(12, timeout=10_000)
        this_week = "svg.chart rect.bar.fair" if counted else "svg.chart rect.bar.good"
        expect(page.locator(this_week)).to_have_count(1)
        expect(summary).to_contain_text(tally)

        # a reading in the hypertensive-crisis range raises an alert, shown at once
        page.get_by_label("Kind of reading").select_option("blood_pressure")
        page.get_by_label("Systolic (mmHg)").fill("186")
        page.get_by_label("Diastolic (mmHg)").fill("112")
        page.get_by_role("button", name="Record reading").click()
        expect(page.locator('dd[data-type="blood_pressure"]')).to_contain_text("186/112 mmHg")
        alert = page.locator("table.alerts tbody tr")
        expect(alert).to_contain_text("Hypertensive crisis")
        expect(alert).to_contain_text("critical")
        # a prescription, read only for the patient
        expect(page.locator("article.prescription")).to_contain_text("500 mg, q4h")
        expect(page.get_by_role("button", name="Activate")).to_have_count(0)
        problems += photograph(page, "medication")
        assert page.title() == "Medication · healthplat" and page.url.endswith("#/medication")
        assert console_errors == [], console_errors
    assert problems == [], "\n".join(problems)


def test_a_doctor_sees_patients_riskiest_first_acknowledges_and_prescribes(
    stack: Stack,
) -> None:
    who = connected(stack, DOCTOR_CHANTHA, PATIENT_ALICE, PATIENT_BOREY)
    doctor, alice, borey = (who[p.name] for p in (DOCTOR_CHANTHA, PATIENT_ALICE, PATIENT_BOREY))
    alice_id = call(stack, "GET", "/me", alice)["id"]
    borey_id = call(stack, "GET", "/me", borey)["id"]
    # Alice skipped a dose (0 % adherence); Borey has nothing due but a critical alert
    prescribe_every_four_hours(stack, doctor, alice_id)
    dose = call(stack, "GET", f"/patients/{alice_id}/doses", alice)["items"][0]
    call(stack, "POST", f"/doses/{dose['id']}/skipped", alice, reason="Forgot the box at home")
    reading = {"type": "blood_pressure", "systolic": 186, "diastolic": 112}
    now = datetime.now(ZoneInfo(TIME_ZONE)).isoformat()
    call(stack, "POST", f"/patients/{borey_id}/vitals", borey, reading=reading, measuredAt=now)
    risk = wait_for(
        lambda: [
            item
            for item in call(stack, "GET", "/dashboard/patients", doctor)["items"]
            if item["last30Days"]["due"] == 1
        ]
    )
    assert risk[0]["patientId"] == alice_id
    problems: list[str] = []
    with chromium() as browser:
        page = new_context(browser, stack).new_page()
        console_errors = watch_console(page)
        sign_in(page, DOCTOR_CHANTHA)
        page.get_by_role("link", name="Patients").click()
        rows = page.locator("table.risk tbody tr")
        expect(rows).to_have_count(2)
        expect(rows.nth(0)).to_contain_text(PATIENT_ALICE.name)
        expect(rows.nth(0)).to_contain_text("0% (0/1)")
        expect(rows.nth(1)).to_contain_text(PATIENT_BOREY.name)
        expect(rows.nth(1)).to_contain_text("nothing due")
        expect(rows.nth(1)).to_contain_text("critical")
        problems += photograph(page, "patients")

        # Borey's alert, acknowledged
        rows.nth(1).get_by_role("link", name=PATIENT_BOREY.name).click()
        assert (
            page.url.endswith(f"#/patients/{borey_id}") and PATIENT_BOREY.name not in page.title()
        )
        alert = page.locator("table.alerts tbody tr")
        expect(alert).to_contain_text("Hypertensive crisis")
        alert.get_by_role("button", name="Acknowledge alert: Hypertensive crisis").click()
        expect(alert.locator(".status-acknowledged")).to_have_text("acknowledged")
        assert call(stack, "GET", f"/patients/{borey_id}/alerts", doctor)["items"][0]["status"] == (
            "acknowledged"
        )
        expect(page.locator('dd[data-type="blood_pressure"]')).to_contain_text("186/112 mmHg")

        # Alice: her adherence, then a prescription written here (catalogue search) and activated
        page.get_by_role("link", name="← All patients").click()
        rows.nth(0).get_by_role("link", name=PATIENT_ALICE.name).click()
        expect(page.locator("#adherence-summary")).to_contain_text("0% of doses taken (0 of 1")
        expect(page.locator("article.prescription")).to_have_count(1)
        page.get_by_label("Find in the catalogue").fill("amoxycillin")
        medicine = page.get_by_label("Medicine", exact=True)
        expect(medicine).to_contain_text("amoxicillin, capsule")
        medicine.select_option(label="amoxicillin, capsule (Amoxil)")
        page.get_by_label("Strength").select_option("500 mg")
        page.get_by_label("Dose form").fill("capsule")
        page.get_by_label("How often").fill("1-0-1")
        page.get_by_label("Instructions").fill("Finish the course.")
        problems += photograph(page, "prescription-draft")
        page.get_by_role("button", name="Save draft").click()
        draft = page.locator('article.prescription[data-status="draft"]')
        expect(draft).to_contain_text("amoxicillin")
        draft.get_by_role("button", name="Activate").click()
        expect(page.locator('article.prescription[data-status="active"]')).to_have_count(2)
        problems += photograph(page, "patient-view")
        assert console_errors == [], console_errors
    assert problems == [], "\n".join(problems)


def test_a_patient_subscribes_and_sees_the_payment_complete(
    stack: Stack, bakong: BakongServer
) -> None:
    sign_up_by_api(stack, PATIENT_ALICE)
    alice = bearer_by_api(stack, PATIENT_ALICE)
    problems: list[str] = []
    with chromium() as browser:
        page: Page = new_context(browser, stack).new_page()
        console_errors = watch_console(page)
        sign_in(page, PATIENT_ALICE)
        page.get_by_role("link", name="Payments").click()
        expect(page.get_by_text("No subscription yet.")).to_be_visible()
        expect(page.get_by_text("No payments yet.")).to_be_visible()
        plan = page.locator("article.plan").first
        plan_name = plan.locator("h3").inner_text()
        problems += photograph(page, "plans")

        # subscribe: a payment with its KHQR code, fetched with the token, shown as a blob: image
        plan.get_by_role("button", name=f"Subscribe: {plan_name}").click()
        expect(page.get_by_role("heading", name="Payment", level=1)).to_be_visible()
        qr = page.get_by_role("img", name="KHQR code: scan it with a Bakong app to pay")
        expect(qr).to_be_visible()
        assert qr.get_attribute("src").startswith("blob:")
        assert qr.evaluate("img => img.complete && img.naturalWidth > 0")
        expect(page.locator(".payment-status .badge")).to_have_text("pending")
        payment_id = page.url.rsplit("/", 1)[1]
        payment = call(stack, "GET", f"/payments/{payment_id}", alice)
        assert payment["status"] == "pending"
        problems += photograph(page, "payment-qr")

        # Bakong reports it paid; the poll job completes it, the page follows without a reload
        page.evaluate("() => { window.sameDocument = true; }")
        paid = bakong.pay(payment["khqr"])
        expect(page.locator(".payment-status .badge")).to_have_text("completed", timeout=30_000)
        receipt = page.locator("dl.receipt")
        expect(receipt).to_contain_text(paid["hash"])
        expect(page.get_by_text("Your plan is active until")).to_be_visible(timeout=30_000)
        assert page.evaluate("() => window.sameDocument") is True
        problems += photograph(page, "payment-paid")

        page.get_by_role("link", name="← Payments").click()
        expect(page.locator("section.subscription .badge").first).to_have_text("active")
        expect(page.locator("section.subscription")).to_contain_text(plan_name)
        row = page.locator("table.files tbody tr")
        expect(row).to_have_count(1)
        expect(row.locator(".badge")).to_have_text("completed")
        problems += photograph(page, "payments")
        assert console_errors == [], console_errors
    assert problems == [], "\n".join(problems)
