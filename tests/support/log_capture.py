"""A pytest plugin: every log line the suite produces is kept, and the run fails if any of them
carries a fixture person's PHI (tests/support/people.py).

What is collected, into one folder per session:

- what each test phase wrote to stdout/stderr (structlog's JSON lines, tracebacks,
  anything printed), from pytest's own capture, one block per phase;
- every stdlib log record of the test process at INFO and up (production's
  level), through a handler on the root logger;
- the log file of every process the suite starts (``PlatformProcess``
  registers it with ``register_process_log``), copied after each test;
- with ``-s`` (no capture), stdout/stderr are teed into the folder instead.

At the end every collected line is searched for the fixture people's names,
phones and dates of birth. A hit fails the run (exit status 1) with a message
naming the kind of value and where it was found, never the value itself; the
folder is then kept for a look, and removed after a clean scan.

In a run split over pytest-xdist's workers, each worker collects what it runs
into a folder of its own inside the controller's, and the controller, which runs
no test, scans them all once every worker has finished.
"""

from __future__ import annotations

import logging
import re
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import msgspec
import pytest

from tests.support.people import PEOPLE, phi_markers

BLOCK = "##log-scan## "  # our own block headers; never scanned
CAPTURED = ("stdout", "stderr")
LOG_LEVEL = logging.INFO
WORKER_PREFIX = "worker-"  # a split run's worker's folder inside the controller's
WORKER_FOLDER = "log_scan_folder"  # the key of that folder in the worker's workerinput


class Finding(msgspec.Struct, frozen=True):
    kind: str
    where: str  # the block (test phase or process log) the line was in
    file: str
    line: int


def marker_kinds() -> dict[str, str]:
    """Each PHI marker of the fixture people, and what kind of value it is."""
    kinds: dict[str, str] = {}
    for person in PEOPLE:
        if person.phone:
            kinds.update({person.phone: "phone number", person.phone.lstrip("+"): "phone number"})
        if person.date_of_birth:
            kinds[person.date_of_birth] = "date of birth"
    return {marker: kinds.get(marker, "name") for marker in phi_markers()}


def _pattern(markers: Iterable[str]) -> re.Pattern[str]:
    longest_first = sorted(markers, key=len, reverse=True)
    return re.compile("|".join(re.escape(marker) for marker in longest_first))


def redact(text: str, kinds: dict[str, str]) -> str:
    """``text`` with every marker replaced by its kind, safe to print."""
    return _pattern(kinds).sub(lambda match: f"<{kinds[match.group(0)]}>", text)


def scan(paths: Iterable[Path], kinds: dict[str, str] | None = None) -> list[Finding]:
    """Every line of ``paths`` that holds a marker (one finding per line and kind)."""
    kinds = kinds or marker_kinds()
    pattern = _pattern(kinds)
    findings: list[Finding] = []
    for path in paths:
        where = path.name
        with path.open(encoding="utf-8", errors="replace") as lines:
            for number, line in enumerate(lines, 1):
                if line.startswith(BLOCK):
                    where = line[len(BLOCK) :].strip()
                    continue
                found = {kinds[match.group(0)] for match in pattern.finditer(line)}
                findings += [Finding(kind, where, str(path), number) for kind in sorted(found)]
    return findings


def summary(findings: list[Finding], kinds: dict[str, str], kept: Path | None) -> str:
    by_kind: dict[str, list[Finding]] = {}
    for finding in findings:
        by_kind.setdefault(finding.kind, []).append(finding)
    lines = ["PHI log scan: fixture people's PHI appears in the suite's logs (values not shown)"]
    for kind, hits in sorted(by_kind.items()):
        first = hits[0]
        lines.append(
            f"  - a {kind} in {len(hits)} line(s); first in {redact(first.where, kinds)} "
            f"({first.file}:{first.line})"
        )
    if kept is not None:
        lines.append(f"  the collected logs are kept in {kept}")
    return "\n".join(lines)


class _Tee:
    """A stream that also writes into the collection (for runs without capture)."""

    def __init__(self, stream: Any, sink: LogCollector) -> None:
        self._stream = stream
        self._sink = sink

    def write(self, text: str) -> int:
        self._sink.append(text)
        return self._stream.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class LogCollector:
    """One session's collection: a folder of log text, and the process logs still to copy."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.session_log = folder / "session.log"
        self._lock = threading.Lock()
        self._process_logs: dict[Path, int] = {}  # path -> bytes already copied
        self._handler: logging.Handler | None = None
        self._teed: list[tuple[str, Any]] = []

    def append(self, text: str, block: str | None = None) -> None:
        with self._lock, self.session_log.open("a", encoding="utf-8") as sink:
            if block is not None:
                sink.write(f"\n{BLOCK}{block}\n")
            sink.write(text)

    def register_process_log(self, path: Path) -> None:
        with self._lock:
            self._process_logs.setdefault(Path(path), 0)

    @property
    def process_logs(self) -> list[Path]:
        return list(self._process_logs)

    def copy_process_logs(self) -> None:
        for path, copied in list(self._process_logs.items()):
            if not path.exists():
                continue
            with path.open("rb") as source:
                source.seek(copied)
                chunk = source.read()
            if chunk:
                self.append(chunk.decode("utf-8", errors="replace"), f"process log {path}")
                self._process_logs[path] = copied + len(chunk)

    def add_report(self, report: pytest.TestReport) -> None:
        """The phase's own captured output (a report also repeats its earlier phases')."""
        own = {f"Captured {stream} {report.when}" for stream in CAPTURED}
        for title, content in report.sections:
            if title in own and content:
                self.append(content, f"{report.nodeid} ({title})")

    def start(self, *, tee: bool) -> None:
        handler = logging.FileHandler(self.folder / "stdlib.log", encoding="utf-8")
        handler.setLevel(LOG_LEVEL)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
        root = logging.getLogger()
        root.addHandler(handler)
        if root.level > LOG_LEVEL or root.level == logging.NOTSET:
            root.setLevel(LOG_LEVEL)  # what LOG_LEVEL=INFO gives the platform's processes
        self._handler = handler
        if tee:
            for name in ("stdout", "stderr"):
                original = getattr(sys, name)
                self._teed.append((name, original))
                setattr(sys, name, _Tee(original, self))

    def stop(self) -> None:
        for name, original in self._teed:
            setattr(sys, name, original)
        self._teed.clear()
        if self._handler is not None:
            logging.getLogger().removeHandler(self._handler)
            self._handler.close()
            self._handler = None

    def files(self) -> list[Path]:
        """Every log file of the collection, the split run's workers' folders included."""
        own = self.folder.glob("*.log")
        return sorted([*own, *self.folder.glob(f"{WORKER_PREFIX}*/*.log")])


_collector: LogCollector | None = None
_message: str | None = None


def register_process_log(path: Path) -> None:
    """Called by PlatformProcess for its log file; a no-op outside a pytest session."""
    if _collector is not None:
        _collector.register_process_log(path)


def active_collector() -> LogCollector | None:
    return _collector


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    global _collector
    if _collector is not None:
        return
    if _is_worker(config):
        folder = Path(config.workerinput[WORKER_FOLDER])  # type: ignore[attr-defined]
        folder.mkdir(exist_ok=True)  # a worker that replaces a crashed one goes on in it
    else:
        folder = Path(tempfile.mkdtemp(prefix="healthplat-log-scan-"))
    _collector = LogCollector(folder)
    _collector.start(tee=config.getoption("capture", "fd") == "no")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist's hook, in the controller: where the worker about to start collects."""
    if _collector is not None:
        folder = _collector.folder / f"{WORKER_PREFIX}{node.gateway.id}"
        node.workerinput[WORKER_FOLDER] = str(folder)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if _collector is None or hasattr(report, "node"):  # a worker's report: the worker has it
        return
    _collector.add_report(report)
    if report.when == "teardown":  # the test's processes have been stopped by now
        _collector.copy_process_logs()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    global _message
    if _collector is None:
        return
    _collector.copy_process_logs()
    _collector.stop()
    if _is_worker(session.config):
        return  # the controller scans the worker's folder with the others
    kinds = marker_kinds()
    findings = scan(_collector.files(), kinds)
    if findings:
        _message = summary(findings, kinds, _collector.folder)
        if session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
    else:
        shutil.rmtree(_collector.folder, ignore_errors=True)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _message:
        terminalreporter.section("PHI log scan", sep="=", red=True, bold=True)
        terminalreporter.line(_message, red=True)


def pytest_unconfigure(config: pytest.Config) -> None:
    global _collector, _message
    if _collector is not None:
        _collector.stop()
    _collector = _message = None
