"""The portal in a real browser: Debian's chromium driven by Playwright, against a real stack.

``playwright install`` is never run: the driver comes in the PyPI wheel and the browser is
``/usr/bin/chromium`` (CI installs it with apt). Each page a journey visits is checked with
axe-core (no serious or critical violation) and photographed at phone and desktop widths
into ``.portal-screenshots/`` (gitignored; the README's pictures are copies of some).
"""

from __future__ import annotations

import email
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import msgspec
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from domain.settings import Settings
from tests.support.accounts import signup_body
from tests.support.paths import PROJECT_ROOT
from tests.support.people import Person
from tests.support.processes import PlatformProcess, start_api, start_scheduler, start_worker
from tests.support.servers import free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = PROJECT_ROOT / ".portal-screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
TIME_ZONE = "Asia/Phnom_Penh"  # not the machine's UTC: times must follow the browser's zone
SERIOUS = {"serious", "critical"}


@dataclass
class Stack:
    """The platform's processes on one test's database: the API (serving the portal), a
    worker and the scheduler."""

    settings: Settings
    url: str
    processes: list[PlatformProcess] = field(default_factory=list)

    def outbox_link(self, to: str, path: str) -> str:
        """The newest link to ``path`` in an e-mail the worker put in the outbox for ``to``."""
        return self._in_outbox(to, rf"https?://\S+/{path}\?token=[\w\-.~%]+")

    def outbox_code(self, to: str) -> str:
        """The newest 6-digit sign-in code e-mailed to ``to``."""
        return self._in_outbox(to, r"code is:\s+(\d{6})")

    def _in_outbox(self, to: str, pattern: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            files = self.settings.outbox_dir.glob("*.eml")
            for eml in sorted(files, key=lambda p: p.stat().st_mtime, reverse=True):
                message = email.message_from_bytes(eml.read_bytes())
                if to not in str(message["To"]):
                    continue
                for part in message.walk():
                    if part.get_content_type() != "text/plain":
                        continue
                    found = re.search(pattern, part.get_payload(decode=True).decode())
                    if found:
                        return found.group(found.lastindex or 0)
            time.sleep(0.2)
        raise AssertionError(f"no e-mail for {to} matching {pattern} in the outbox")


def start_stack(settings: Settings, log_dir: Path) -> Stack:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    configured = msgspec.structs.replace(
        settings, rate_limit_auth_per_minute=1000, rate_limit_user_per_minute=10_000
    )
    stack = Stack(settings=configured, url=url)
    try:
        stack.processes.append(start_worker(configured, log_dir, threads=2))
        stack.processes.append(start_scheduler(configured, log_dir))
        stack.processes.append(start_api(configured, log_dir, port, PUBLIC_APP_URL=url))
    except BaseException:
        stop_stack(stack)
        raise
    return stack


def stop_stack(stack: Stack) -> None:
    for process in reversed(stack.processes):
        process.stop()


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def new_context(browser: Browser, stack: Stack, time_zone: str = TIME_ZONE) -> BrowserContext:
    context = browser.new_context(
        base_url=stack.url,
        viewport=DESKTOP,
        timezone_id=time_zone,
        locale="en-GB",
        accept_downloads=True,
    )
    context.set_default_timeout(20_000)
    return context


EXPECTED_REFUSAL = "Failed to load resource: the server responded with a status of 4"


def watch_console(page: Page) -> list[str]:
    """Script errors and CSP refusals the page logs; the test asserts there are none. An
    API's 4xx (a refusal the page shows, the refresh of a visitor with no session) is not one.
    """
    errors: list[str] = []

    def seen(message) -> None:
        if message.type == "error" and not message.text.startswith(EXPECTED_REFUSAL):
            errors.append(message.text)

    page.on("console", seen)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


def accessibility_problems(page: Page) -> list[str]:
    """axe-core's serious and critical violations on the page as it stands."""
    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in SERIOUS
    ]


def photograph(page: Page, name: str) -> list[str]:
    """Screenshots at phone and desktop widths, and axe's findings at each width."""
    SCREENSHOTS.mkdir(exist_ok=True)
    page.evaluate("() => document.getElementById('toast').replaceChildren()")  # a passing toast
    problems: list[str] = []
    before = page.viewport_size or DESKTOP
    for label, size in (("phone", PHONE), ("desktop", DESKTOP)):
        page.set_viewport_size(size)
        page.wait_for_timeout(150)
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"), full_page=True)
        problems += [f"{name} ({label}): {p}" for p in accessibility_problems(page)]
    page.set_viewport_size(before)
    return problems


def drop_files(page: Page, selector: str, files: list[tuple[str, str, bytes]]) -> None:
    """Drag-and-drop ``(name, type, bytes)`` files onto ``selector`` as a person would."""
    transfer = page.evaluate_handle(
        """(files) => {
            const dt = new DataTransfer();
            for (const [name, type, data] of files) {
                dt.items.add(new File([new Uint8Array(data)], name, { type }));
            }
            return dt;
        }""",
        [[name, kind, list(data)] for name, kind, data in files],
    )
    for event in ("dragenter", "dragover", "drop"):
        page.dispatch_event(selector, event, {"dataTransfer": transfer})


def record_progress(page: Page) -> None:
    """Keep every percentage the upload's progress label shows (read by ``progress_seen``)."""
    page.evaluate(
        """() => {
            window.__progress = [];
            new MutationObserver(() => {
                for (const el of document.querySelectorAll('.progress-label')) {
                    const m = el.textContent.match(/^(\\d+)%$/);
                    if (m && window.__progress.at(-1) !== +m[1]) window.__progress.push(+m[1]);
                }
            }).observe(document.body, { subtree: true, childList: true, characterData: true });
        }"""
    )


def progress_seen(page: Page) -> list[int]:
    return page.evaluate("() => window.__progress")


def slow_uploads(page: Page, bytes_per_second: int) -> None:
    """Throttle the page's uploads (Chromium's network emulation), so progress is visible."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": 0,
            "downloadThroughput": -1,
            "uploadThroughput": bytes_per_second,
        },
    )


def sign_up_by_api(stack: Stack, person: Person, role: str = "patient") -> None:
    """An account made and verified without the browser (for journeys that start signed up)."""
    body = signup_body(person, role)
    assert httpx.post(f"{stack.url}/api/v1/auth/signup", json=body).status_code == 201
    token = stack.outbox_link(person.email, "verify-email").split("token=")[1]
    verified = httpx.post(f"{stack.url}/api/v1/auth/verify-email", json={"token": token})
    assert verified.status_code == 200, verified.text


def sign_in(page: Page, person: Person) -> None:
    page.goto("/#/signin")
    page.get_by_label("E-mail address", exact=True).fill(person.email)
    page.get_by_role("textbox", name="Password", exact=True).fill(person.password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("heading", name="Documents", level=1)).to_be_visible()


def bearer_by_api(stack: Stack, person: Person) -> dict[str, str]:
    answer = httpx.post(
        f"{stack.url}/api/v1/auth/login", json={"email": person.email, "password": person.password}
    ).json()
    return {"Authorization": f"Bearer {answer['accessToken']}"}
