"""The PHI log scan catches a real leak: through the platform's own logging, in other processes.

Leaks are produced only in child processes whose output goes to files of
this test's own, so the session's scan (which would rightly fail) never sees
them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import msgspec
import pytest

from tests.support import log_capture
from tests.support.log_capture import BLOCK, LogCollector, marker_kinds, redact, scan, summary
from tests.support.paths import PROJECT_ROOT
from tests.support.people import PATIENT_ALICE, PATIENT_BOREY, phi_markers
from tests.support.processes import PlatformProcess

LEAKY_PROCESS = """
import logging, uuid
import structlog
from domain.logging import configure_logging
from tests.support.people import PATIENT_ALICE, PATIENT_BOREY
configure_logging("INFO", "json")
structlog.get_logger("clean").info("patient_found", patient_id=str(uuid.uuid4()))
structlog.get_logger("leaky").info("patient_found", patient=PATIENT_ALICE.name)
logging.getLogger("leaky.stdlib").warning("calling %s", PATIENT_BOREY.phone)
"""


def child_env() -> dict[str, str]:
    outer = {name: value for name, value in os.environ.items() if not name.startswith("PYTEST_")}
    return {**outer, "PYTHONPATH": str(PROJECT_ROOT), "PYTHONUNBUFFERED": "1"}


def run_python(code: str, output: Path, cwd: Path = PROJECT_ROOT) -> int:
    with output.open("wb") as sink:
        return subprocess.run(
            [sys.executable, "-c", code],
            cwd=cwd,
            env=child_env(),
            stdout=sink,
            stderr=subprocess.STDOUT,
            timeout=60,
            check=False,
        ).returncode


def test_every_marker_has_a_kind() -> None:
    kinds = marker_kinds()
    assert set(kinds) == phi_markers()
    assert kinds[PATIENT_ALICE.name] == "name"
    assert kinds[PATIENT_ALICE.phone] == kinds[PATIENT_ALICE.phone.lstrip("+")] == "phone number"
    assert kinds[PATIENT_ALICE.date_of_birth] == "date of birth"


def test_the_scan_finds_what_the_platform_logging_leaked_in_another_process(
    tmp_path: Path,
) -> None:
    log = tmp_path / "leaky.log"
    assert run_python(LEAKY_PROCESS, log) == 0

    findings = scan([log])

    assert {finding.kind for finding in findings} == {"name", "phone number"}
    assert all(finding.file == str(log) for finding in findings)
    message = summary(findings, marker_kinds(), tmp_path)
    assert "a name in 1 line(s)" in message and "a phone number in 1 line(s)" in message
    for marker in phi_markers():
        assert marker not in message


def test_a_clean_log_passes(tmp_path: Path) -> None:
    log = tmp_path / "clean.log"
    code = LEAKY_PROCESS.split('structlog.get_logger("leaky")')[0]
    assert run_python(code, log) == 0
    assert log.read_text().strip()  # it did log something
    assert scan([log]) == []


class FakeReport(msgspec.Struct):
    nodeid: str
    when: str
    sections: list[tuple[str, str]]


def test_the_collector_gathers_test_output_and_process_logs(tmp_path: Path) -> None:
    collector = LogCollector(tmp_path)
    process_log = tmp_path / "proc" / "api-1.log"
    process_log.parent.mkdir()
    process_log.write_text(f"born {PATIENT_BOREY.date_of_birth}\n")
    collector.register_process_log(process_log)
    collector.add_report(
        FakeReport(
            nodeid="tests/x.py::test_y",
            when="call",
            sections=[
                ("Captured stderr call", f'{{"patient": "{PATIENT_ALICE.name}"}}\n'),
                ("Captured stdout setup", "an earlier phase, already collected\n"),
            ],
        )
    )
    collector.copy_process_logs()
    collector.copy_process_logs()  # nothing new: nothing copied twice

    findings = scan(collector.files())

    assert [(f.kind, f.where) for f in findings] == [
        ("name", "tests/x.py::test_y (Captured stderr call)"),
        ("date of birth", f"process log {process_log}"),
    ]
    assert "an earlier phase" not in collector.session_log.read_text()
    assert BLOCK.strip() in collector.session_log.read_text()


def test_block_names_are_redacted_before_they_are_shown() -> None:
    assert redact(f"test[{PATIENT_ALICE.name}]", marker_kinds()) == "test[<name>]"


def test_platform_processes_register_their_logs_with_the_session(tmp_path: Path) -> None:
    collector = log_capture.active_collector()
    assert collector is not None, "the plugin is not active in this session"
    process = PlatformProcess(
        "probe", [sys.executable, "-c", "print('ok')"], child_env(), tmp_path / "logs"
    )
    process.stop()
    assert process.log_path in collector.process_logs


@pytest.mark.parametrize("split", [[], ["-n", "2"]], ids=["one-process", "xdist-workers"])
def test_a_leak_fails_the_whole_run_naming_the_kind_not_the_value(
    tmp_path: Path, split: list[str]
) -> None:
    (tmp_path / "test_leak.py").write_text(
        textwrap.dedent(
            """
            import logging, os, sys
            import structlog
            from domain.logging import configure_logging
            from tests.support.people import PATIENT_ALICE, PATIENT_BOREY
            from tests.support.processes import PlatformProcess

            def test_passes_but_leaks():
                configure_logging("INFO", "json")
                structlog.get_logger("leaky").info("lookup", patient=PATIENT_ALICE.name)

            def test_stdlib_leak():
                logging.getLogger("leaky.stdlib").info("calling %s", PATIENT_BOREY.phone)

            def test_a_spawned_process_leaks(tmp_path):
                code = f"print({PATIENT_BOREY.date_of_birth!r})"
                child = PlatformProcess(
                    "child", [sys.executable, "-c", code], dict(os.environ), tmp_path
                )
                child.process.wait(30)
                child.stop()

            def test_clean():
                structlog.get_logger("clean").info("lookup", patient_id="p-1")
            """
        )
    )

    def inner_run(*selection: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "pytest", "-p", "tests.support.log_capture", "-q"]
        argv += ["-p", "no:cacheprovider", *split, "test_leak.py", *selection]
        # TMPDIR: the inner session keeps its (leaky) collection under this test's folder
        env = {**child_env(), "TMPDIR": str(tmp_path)}
        return subprocess.run(
            argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )

    leaking = inner_run()
    clean = inner_run("-k", "test_clean")

    assert leaking.returncode == 1
    assert "4 passed" in leaking.stdout
    assert "PHI log scan" in leaking.stdout
    for kind in ("name", "phone number", "date of birth"):
        assert f"a {kind} in 1 line(s)" in leaking.stdout
    assert "test_leak.py::test_passes_but_leaks" in leaking.stdout
    assert "process log" in leaking.stdout
    for marker in phi_markers():
        assert marker not in leaking.stdout + leaking.stderr
    assert clean.returncode == 0 and "PHI log scan" not in clean.stdout
