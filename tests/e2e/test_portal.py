"""The portal's journeys in a real browser (Debian's chromium) against the running platform:
sign-up and verification through the outbox, sign-in, documents (progress, list, search,
download, delete, clear refusals), a record followed live until anchored with its proof,
sign-out, and a second user who never sees the first one's files. Every page visited is
checked with axe-core and photographed at phone and desktop widths (tests/support/browser.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import msgspec
import pytest
from playwright.sync_api import Page, expect
from stellar_sdk import Keypair

from tests.support.accounts import execute, totp_code
from tests.support.browser import (
    TIME_ZONE,
    Stack,
    bearer_by_api,
    chromium,
    drop_files,
    new_context,
    photograph,
    progress_seen,
    record_progress,
    sign_in,
    sign_up_by_api,
    slow_uploads,
    start_stack,
    stop_stack,
    watch_console,
)
from tests.support.pdfs import encrypted_pdf, large_pdf, valid_pdf
from tests.support.people import DOCTOR_CHANTHA, PATIENT_ALICE, PATIENT_BOREY, Person

pytestmark = pytest.mark.slow

NEW_PASSWORD = "a brand new long passphrase"


@pytest.fixture
def stack(settings, horizon, log_dir) -> Iterator[Stack]:
    key = Keypair.random()
    horizon.fund(key.public_key)
    anchored = msgspec.structs.replace(
        settings,
        stellar_secret_key=key.secret,
        stellar_horizon_url=horizon.url,
        stellar_network_passphrase=horizon.network_passphrase,
        anchor_interval_seconds=0.5,
    )
    running = start_stack(anchored, log_dir)
    yield running
    stop_stack(running)


def sign_in_by_keyboard(page: Page, person: Person) -> None:
    """Tab from the top of the page to the form, type, and press Enter: no mouse."""
    page.goto("/#/signin")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    email = page.get_by_label("E-mail address", exact=True)
    for _ in range(15):
        if email.evaluate("el => el === document.activeElement"):
            break
        page.keyboard.press("Tab")
    else:
        raise AssertionError("the e-mail field cannot be reached with Tab")
    page.keyboard.type(person.email)
    page.keyboard.press("Tab")
    page.keyboard.type(person.password)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Documents", level=1)).to_be_visible()


def api_from_page(page: Page, method: str, path: str) -> int:
    """The status the portal's own API client gets for a call, with the page's session."""
    return page.evaluate(
        """async ([method, path]) => {
            const api = await import('/portal/js/api.js');
            try { return (await api.call(method, path)).status; }
            catch (error) { return error.status; }
        }""",
        [method, path],
    )


def test_a_patient_signs_up_and_keeps_documents(stack: Stack) -> None:
    problems: list[str] = []
    with chromium() as browser:
        context = new_context(browser, stack)
        page = context.new_page()
        console_errors = watch_console(page)

        # sign up, then verify through the link the worker put in the outbox
        page.goto("/")
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        assert page.title() == "Sign in · healthplat"
        problems += photograph(page, "sign-in")
        page.get_by_role("link", name="Create an account").click()
        page.get_by_label("Full name").fill(PATIENT_ALICE.name)
        page.get_by_label("E-mail address", exact=True).fill(PATIENT_ALICE.email)
        page.get_by_role("textbox", name="Password", exact=True).fill(PATIENT_ALICE.password)
        problems += photograph(page, "sign-up")
        page.get_by_role("button", name="Create account").click()
        expect(page.get_by_role("heading", name="Check your e-mail")).to_be_visible()
        page.goto(stack.outbox_link(PATIENT_ALICE.email, "verify-email"))
        expect(page.get_by_role("heading", name="E-mail confirmed")).to_be_visible()
        assert "token" not in page.url  # read once, then taken out of the address bar

        # sign in: the access token in memory, the refresh token in a locked-down cookie
        page.get_by_role("link", name="Sign in").first.click()
        sign_in(page, PATIENT_ALICE)
        assert page.evaluate("() => localStorage.length + sessionStorage.length") == 0
        (cookie,) = context.cookies()
        assert cookie["name"] == "hp_refresh" and cookie["httpOnly"] and cookie["secure"]
        assert cookie["sameSite"] == "Strict" and cookie["path"] == "/api/v1/auth/browser"
        assert page.evaluate("() => document.cookie") == ""
        page.reload()  # the token was in memory only: the cookie signs the page back in
        expect(page.get_by_role("heading", name="Documents", level=1)).to_be_visible()
        expect(page.get_by_text("No documents yet.")).to_be_visible()
        problems += photograph(page, "documents-empty")

        # clear refusals: not a PDF (dropped), a PDF too large, an encrypted PDF (the server)
        drop_files(page, ".dropzone", [("notes.txt", "text/plain", b"just text")])
        expect(page.get_by_role("alert")).to_contain_text("“notes.txt” is not a PDF")
        page.locator("#document-file").set_input_files(
            {"name": "huge.pdf", "mimeType": "application/pdf", "buffer": b"%PDF" + bytes(11 << 20)}
        )
        expect(page.get_by_role("alert")).to_contain_text("the limit is 10 MB")
        page.locator("#document-file").set_input_files(
            {"name": "locked.pdf", "mimeType": "application/pdf", "buffer": encrypted_pdf()}
        )
        expect(page.get_by_role("alert")).to_contain_text("locked.pdf")
        expect(page.get_by_role("alert")).to_contain_text("encrypted")
        page.locator("#document-file").set_input_files(
            {"name": "fake.pdf", "mimeType": "application/pdf", "buffer": b"not really a pdf" * 10}
        )
        expect(page.get_by_role("alert")).to_contain_text("fake.pdf")
        expect(page.get_by_role("alert")).to_contain_text("PDF")

        # a real upload, slowed down so the progress bar shows its way to 100%
        original = large_pdf(1_500_000)
        record_progress(page)
        slow_uploads(page, 400_000)
        page.locator("#document-file").set_input_files(
            {"name": "lab-results.pdf", "mimeType": "application/pdf", "buffer": original}
        )
        expect(page.get_by_text("“lab-results.pdf” is stored.")).to_be_visible(timeout=30_000)
        seen = progress_seen(page)
        assert any(0 < value < 100 for value in seen), seen
        assert seen == sorted(seen) and seen[-1] == 100, seen
        slow_uploads(page, -1)
        page.locator("#document-file").set_input_files(
            {"name": "x-ray report.pdf", "mimeType": "application/pdf", "buffer": valid_pdf(2)}
        )
        expect(page.get_by_text("“x-ray report.pdf” is stored.")).to_be_visible()

        # listed, in the browser's time zone; search and sort
        rows = page.locator("table.files tbody tr")
        expect(rows).to_have_count(2)
        expect(rows.first).to_contain_text("x-ray report.pdf")  # newest first
        shown = rows.first.locator("time").get_attribute("datetime")
        local = datetime.fromisoformat(shown.replace("Z", "+00:00")).astimezone(ZoneInfo(TIME_ZONE))
        assert datetime.now(UTC) - local < timedelta(minutes=5)
        expect(rows.first.locator("time")).to_contain_text(local.strftime("%H:%M"))
        page.get_by_label("Sort").select_option("name")
        expect(rows.first).to_contain_text("lab-results.pdf")
        page.get_by_label("Search").fill("x-ray")
        expect(rows).to_have_count(1)
        page.get_by_label("Search").fill("nothing like this")
        expect(page.get_by_text("No document matches your search.")).to_be_visible()
        page.get_by_label("Search").fill("")
        problems += photograph(page, "documents")

        # download equals the original
        with page.expect_download() as download:
            page.get_by_role("button", name="Download lab-results.pdf").click()
        assert download.value.suggested_filename == "lab-results.pdf"
        assert Path(download.value.path()).read_bytes() == original

        # delete, after a confirmation (cancel first: nothing happens)
        page.get_by_role("button", name="Delete lab-results.pdf").click()
        page.get_by_role("dialog").get_by_role("button", name="Cancel").click()
        expect(rows).to_have_count(2)
        page.get_by_role("button", name="Delete lab-results.pdf").click()
        problems += photograph(page, "delete-confirmation")
        page.get_by_role("dialog").get_by_role("button", name="Delete").click()
        expect(rows).to_have_count(1)
        expect(rows.filter(has_text="lab-results.pdf")).to_have_count(0)
        expect(page.get_by_role("status").filter(has_text="deleted")).to_be_visible()

        # the jobs page shows the storing jobs, finished
        page.get_by_role("link", name="Jobs").click()
        expect(page.locator("table.files tbody tr").first).to_contain_text("Storing a document")
        expect(page.locator(".status-succeeded").first).to_be_visible()
        problems += photograph(page, "jobs")
        for name, heading in (("Connections", "Connections"), ("Notices", "Notices")):
            page.get_by_role("link", name=name).click()
            expect(page.get_by_role("heading", name=heading, level=1)).to_be_visible()
            problems += photograph(page, name.lower())

        # sign-out: access gone, the cookie's session ended, a reload does not bring it back
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        assert context.cookies() == [] or context.cookies()[0]["value"] == ""
        assert api_from_page(page, "GET", "/me") == 401
        page.goto("/#/documents")
        page.reload()
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

        # a forgotten password: the e-mailed link, a new password, signed in with it
        page.get_by_role("link", name="Forgot your password?").click()
        # the page renders on the hash change, after the click returns: until then "E-mail
        # address" is still the sign-in form's field, which the new page replaces, emptied
        expect(page.get_by_role("heading", name="Reset your password")).to_be_visible()
        page.get_by_label("E-mail address", exact=True).fill(PATIENT_ALICE.email)
        page.get_by_role("button", name="E-mail me a link").click()
        expect(page.get_by_role("heading", name="Check your e-mail")).to_be_visible()
        page.goto(stack.outbox_link(PATIENT_ALICE.email, "reset-password"))
        assert "token" not in page.url
        page.get_by_label("New password").fill(NEW_PASSWORD)
        page.get_by_role("button", name="Save password").click()
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        sign_in(page, msgspec.structs.replace(PATIENT_ALICE, password=NEW_PASSWORD))
        assert console_errors == [], console_errors
        context.close()
    assert problems == [], "\n".join(problems)


def test_a_record_is_followed_until_anchored_and_a_second_user_sees_nothing(
    stack: Stack, tmp_path: Path
) -> None:
    sign_up_by_api(stack, PATIENT_ALICE)
    sign_up_by_api(stack, PATIENT_BOREY)
    problems: list[str] = []
    content = b"LDL 2.1 mmol/L; HDL 1.4 mmol/L" * 50
    with chromium() as browser:
        alice = new_context(browser, stack).new_page()
        console_errors = watch_console(alice)
        sign_in_by_keyboard(alice, PATIENT_ALICE)
        alice.get_by_role("link", name="Records").click()
        expect(alice.get_by_text("No records yet.")).to_be_visible()
        problems += photograph(alice, "records-empty")

        # upload: encrypted here, stored by the worker, anchored by the scheduler, all live
        alice.evaluate("() => { window.sameDocument = true; }")
        alice.get_by_label("Type").select_option("LAB_RESULT")
        alice.get_by_label("Description").fill("Lipid panel")
        alice.get_by_label("File").set_input_files(
            {"name": "panel.txt", "mimeType": "text/plain", "buffer": content}
        )
        alice.get_by_label("Passphrase").fill("correct horse battery")
        alice.get_by_role("button", name="Encrypt and upload").click()
        expect(alice.get_by_text("Stored.", exact=False)).to_be_visible(timeout=30_000)
        row = alice.locator("table.files tbody tr")
        expect(row).to_have_count(1)
        expect(row.locator(".record-status")).to_have_text("anchored", timeout=30_000)
        assert alice.evaluate("() => window.sameDocument") is True  # never reloaded
        problems += photograph(alice, "records")

        # the record's verification, its proof, and the proof checked offline
        record_id = row.get_attribute("data-id")
        row.get_by_role("link", name="Open record details").click()
        assert alice.url.endswith(f"#/records/{record_id}")  # an id in the URL, nothing else
        alice.get_by_role("button", name="Verify").click()
        expect(
            alice.get_by_text("Verified: the content, its proof and the ledger agree.")
        ).to_be_visible()
        expect(alice.locator("dl.proof")).to_contain_text("Merkle root")
        problems += photograph(alice, "record-proof")
        with alice.expect_download() as proof_download:
            alice.get_by_role("button", name="Download proof").click()
        with alice.expect_download() as sealed_download:
            alice.get_by_role("button", name="Download encrypted").click()
        proof_file, sealed_file = tmp_path / "proof.json", tmp_path / "record.enc"
        proof_download.value.save_as(proof_file)
        sealed_download.value.save_as(sealed_file)
        assert json.loads(proof_file.read_text())["recordId"] == record_id
        offline = subprocess.run(
            [
                sys.executable,
                "-m",
                "workers.proof_cli",
                str(proof_file),
                "--content",
                str(sealed_file),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert offline.returncode == 0, offline.stdout + offline.stderr
        assert sealed_file.read_bytes() != content  # the server only ever had ciphertext
        with alice.expect_download() as opened:
            alice.get_by_label("Passphrase").fill("correct horse battery")
            alice.get_by_role("button", name="Decrypt and download").click()
        assert Path(opened.value.path()).read_bytes() == content

        # a document of Alice's; then Borey, signing in by e-mailed code, sees none of hers
        alice.get_by_role("link", name="Documents").click()
        alice.locator("#document-file").set_input_files(
            {"name": "alice-only.pdf", "mimeType": "application/pdf", "buffer": valid_pdf()}
        )
        expect(alice.get_by_text("“alice-only.pdf” is stored.")).to_be_visible()
        document_id = alice.locator("table.files tbody tr").first.get_attribute("data-id")

        borey = new_context(browser, stack).new_page()
        borey.goto("/#/signin")
        borey.get_by_role("tab", name="E-mailed code").click()
        borey.get_by_label("E-mail address", exact=True).fill(PATIENT_BOREY.email)
        borey.get_by_role("button", name="E-mail me a code").click()
        code_field = borey.get_by_label("6-digit code from the e-mail")
        expect(code_field).to_be_visible()
        code_field.fill(stack.outbox_code(PATIENT_BOREY.email))
        borey.get_by_role("button", name="Sign in", exact=True).click()
        expect(borey.get_by_role("heading", name="Documents", level=1)).to_be_visible()
        expect(borey.get_by_text("No documents yet.")).to_be_visible()
        assert api_from_page(borey, "GET", f"/documents/{document_id}/content") == 404
        assert api_from_page(borey, "GET", f"/records/{record_id}") == 404
        borey.get_by_role("link", name="Records").click()
        expect(borey.get_by_text("No records yet.")).to_be_visible()
        assert console_errors == [], console_errors
    assert problems == [], "\n".join(problems)


def test_a_doctor_signs_in_with_totp_accepts_a_patient_and_sees_her_documents(
    stack: Stack,
) -> None:
    sign_up_by_api(stack, DOCTOR_CHANTHA, role="doctor")
    secret = enable_totp(stack, DOCTOR_CHANTHA)
    sign_up_by_api(stack, PATIENT_ALICE)
    alice = bearer_by_api(stack, PATIENT_ALICE)
    doctor_id = httpx.get(f"{stack.url}/api/v1/doctors", headers=alice).json()["items"][0]["id"]
    asked = httpx.post(
        f"{stack.url}/api/v1/connections", json={"doctorId": doctor_id}, headers=alice
    )
    assert asked.status_code in (200, 201), asked.text
    alice_id = httpx.get(f"{stack.url}/api/v1/me", headers=alice).json()["id"]
    uploaded = httpx.post(
        f"{stack.url}/api/v1/documents",
        headers=alice,
        data={"patientId": alice_id},
        files={"file": ("discharge letter.pdf", valid_pdf(), "application/pdf")},
    )
    assert uploaded.status_code == 202, uploaded.text
    problems: list[str] = []
    with chromium() as browser:
        page = new_context(browser, stack).new_page()
        console_errors = watch_console(page)

        # password, then the authenticator's code
        page.goto("/#/signin")
        page.get_by_label("E-mail address", exact=True).fill(DOCTOR_CHANTHA.email)
        page.get_by_role("textbox", name="Password", exact=True).fill(DOCTOR_CHANTHA.password)
        page.get_by_role("button", name="Sign in", exact=True).click()
        expect(page.get_by_role("heading", name="Two-step sign-in")).to_be_visible()
        problems += photograph(page, "two-step")
        page.get_by_label("Authenticator code").fill(totp_code(secret))
        page.get_by_role("button", name="Continue").click()
        expect(page.get_by_text("No connected patients yet.")).to_be_visible()

        # the request's notice is counted; the doctor accepts it
        expect(page.locator("#nav [data-unread]")).to_have_text("1")
        page.get_by_role("link", name="Connections").click()
        page.get_by_role("button", name="Accept").click()
        expect(page.locator("table.files .badge")).to_have_text("active")
        problems += photograph(page, "doctor-connections")

        # a new notice arrives live while the doctor reads the notices
        page.get_by_role("link", name="Notices").click()
        expect(page.locator("li.notice")).to_have_count(1)
        sign_up_by_api(stack, PATIENT_BOREY)
        borey = bearer_by_api(stack, PATIENT_BOREY)
        httpx.post(f"{stack.url}/api/v1/connections", json={"doctorId": doctor_id}, headers=borey)
        expect(page.locator("li.notice")).to_have_count(2)
        expect(page.locator("#nav [data-unread]")).to_have_text("2")
        problems += photograph(page, "notices-live")

        # the connected patient's documents, by name; a doctor downloads but cannot delete
        page.get_by_role("link", name="Documents").click()
        expect(page.get_by_label("Patient")).to_contain_text(PATIENT_ALICE.name)
        row = page.locator("table.files tbody tr")
        expect(row).to_contain_text("discharge letter.pdf")
        expect(row.get_by_role("button", name="Delete discharge letter.pdf")).to_have_count(0)
        with page.expect_download() as download:
            row.get_by_role("button", name="Download discharge letter.pdf").click()
        assert Path(download.value.path()).read_bytes() == valid_pdf()
        problems += photograph(page, "doctor-documents")
        assert PATIENT_ALICE.name not in page.title() and PATIENT_ALICE.name not in page.url
        assert console_errors == [], console_errors
    assert problems == [], "\n".join(problems)


def enable_totp(stack: Stack, person: Person) -> str:
    headers = bearer_by_api(stack, person)
    setup = httpx.post(
        f"{stack.url}/api/v1/auth/totp/setup", json={"password": person.password}, headers=headers
    ).json()
    enabled = httpx.post(
        f"{stack.url}/api/v1/auth/totp/enable",
        json={"code": totp_code(setup["secret"])},
        headers=headers,
    )
    assert enabled.status_code == 200, enabled.text
    forget_last_totp_step(stack)
    return setup["secret"]


def forget_last_totp_step(stack: Stack) -> None:
    """The code used to enable TOTP may not be used again; as if a few minutes had passed."""
    execute(stack.settings.database_url, "UPDATE users SET totp_last_step = totp_last_step - 10")
