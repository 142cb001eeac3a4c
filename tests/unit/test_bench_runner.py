"""The benchmark runner (bench/runner.py): which benches it runs or skips and why, and the
markdown table and JSON it writes. No benchmark runs here: the benches are fake modules."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import pytest

from bench._support import Unavailable
from bench.runner import Outcome, report_stem, run_one, table_rows, write_report


def module(name: str, **functions: object) -> ModuleType:
    fake = ModuleType(f"bench.{name}")
    for attribute, value in functions.items():
        setattr(fake, attribute, value)
    return fake


def importer(*modules: ModuleType):
    known = {m.__name__.removeprefix("bench."): m for m in modules}

    def load(name: str) -> ModuleType:
        if name not in known:
            raise ModuleNotFoundError(f"No module named 'bench.{name}'", name=f"bench.{name}")
        return known[name]

    return load


ROW = {
    "name": "records: upload -> stored on IPFS",
    "value": 190.7,
    "unit": "records/s",
    "baseline": 300.0,
    "baseline_name": "raw IPFS add + pin",
    "ratio": 0.635,
    "target": "ratio >= 0.6",
    "met": True,
}


def test_a_bench_with_figures_runs_with_the_quick_flag() -> None:
    asked: list[bool] = []

    def figures(*, quick: bool = False) -> dict:
        asked.append(quick)
        return {"rows": [ROW], "raw_seconds": [1.0, 1.1]}

    outcome = run_one(
        "records_pipeline", True, importer(module("records_pipeline", figures=figures))
    )
    assert (outcome.status, asked) == ("ok", [True])
    assert outcome.result["raw_seconds"] == [1.0, 1.1]
    assert outcome.rows() == [ROW]


def test_absent_modules_and_benches_without_figures_are_skipped_saying_why() -> None:
    def main_only(argv: list[str] | None = None) -> int:
        raise AssertionError("the runner must not call main()")

    def run(args: object) -> int:  # another meaning of run: it needs an argument
        raise AssertionError("the runner must not call a run() that needs arguments")

    load = importer(module("ocr", main=main_only, run=run))
    absent = run_one("job_history", False, load)
    without = run_one("ocr", False, load)
    assert absent.status == without.status == "skipped"
    assert "no module bench.job_history" in absent.reason
    assert "has no figures()" in without.reason


def test_a_run_without_arguments_returning_a_dict_is_taken_too() -> None:
    outcome = run_one(
        "idle_latency", False, importer(module("idle_latency", run=lambda: {"rows": []}))
    )
    assert outcome.status == "ok"


def test_a_failing_bench_is_recorded_and_does_not_stop_the_others() -> None:
    def broken(*, quick: bool = False) -> dict:
        raise RuntimeError("the API did not start\nsee api.log")

    def exits(*, quick: bool = False) -> dict:
        raise SystemExit(1)

    def not_a_dict(*, quick: bool = False) -> int:
        return 3

    load = importer(
        module("throughput", figures=broken),
        module("webhooks", figures=exits),
        module("adherence", figures=not_a_dict),
    )
    outcomes = [run_one(name, False, load) for name in ("throughput", "webhooks", "adherence")]
    assert [o.status for o in outcomes] == ["failed", "failed", "failed"]
    assert outcomes[0].reason == "RuntimeError: the API did not start"
    assert outcomes[1].reason == "SystemExit: 1"
    assert outcomes[2].reason == "figures() returned int"


def test_the_table_has_one_line_per_figure_and_one_per_bench_that_did_not_run() -> None:
    unmet = {**ROW, "name": "enqueue", "value": 12, "unit": "jobs/s", "ratio": 0.2, "met": False}
    plain = {"name": "CID, 10 MB", "value": 0.0004, "unit": "s", "baseline": None, "ratio": None}
    outcomes = [
        Outcome("records_pipeline", "ok", result={"rows": [ROW, unmet]}),
        Outcome("cid_speed", "ok", result={"rows": [plain]}),
        Outcome("ocr", "skipped", "bench.ocr has no figures() returning a dict"),
        Outcome("webhooks", "failed", "RuntimeError: boom | bang"),
        Outcome("anchoring", "ok", result={}),
    ]
    assert table_rows(outcomes) == [
        [
            "records_pipeline",
            "records: upload -> stored on IPFS: 191 records/s",
            "300 (raw IPFS add + pin)",
            "0.635",
            "ratio >= 0.6",
            "yes",
        ],
        [
            "records_pipeline",
            "enqueue: 12 jobs/s",
            "300 (raw IPFS add + pin)",
            "0.2",
            "ratio >= 0.6",
            "**no**",
        ],
        ["cid_speed", "CID, 10 MB: 0.0004 s", "-", "-", "-", "-"],
        ["ocr", "skipped: bench.ocr has no figures() returning a dict", "-", "-", "-", "-"],
        ["webhooks", "failed: RuntimeError: boom | bang", "-", "-", "-", "-"],
        ["anchoring", "ran; no figures reported", "-", "-", "-", "-"],
    ]


@pytest.fixture
def meta() -> dict:
    return {
        "date": "2026-12-06 08:12 UTC",
        "machine": {"cores": 2, "host": "vm", "python": "3.11.7", "platform": "Linux"},
        "load_start": [0.5, 0.4, 0.3],
        "load_end": [1.5, 0.9, 0.5],
        "commit": "abc123",
        "command": "python -m bench --quick",
        "quick": True,
        "seconds": 183.2,
    }


def test_the_report_is_written_as_markdown_and_json_named_by_date_and_cores(
    tmp_path: Path, meta: dict
) -> None:
    outcomes = [
        Outcome("records_pipeline", "ok", seconds=61.23456, result={"rows": [ROW]}),
        Outcome("webhooks", "failed", "RuntimeError: boom | bang", 2.0),
    ]
    stem = report_stem(datetime(2026, 12, 6, 8, 12, tzinfo=UTC), 2)
    markdown, document = write_report(tmp_path / "results", meta, outcomes, stem)

    assert (markdown.name, document.name) == (
        "2026-12-06T0812Z-2cores.md",
        "2026-12-06T0812Z-2cores.json",
    )
    text = markdown.read_text()
    assert (
        "2 cores" in text
        and "[0.5, 0.4, 0.3] at the start" in text
        and "[1.5, 0.9, 0.5] at the end" in text
    )
    assert "`abc123`" in text and "(quick sizes)" in text
    lines = text.splitlines()
    header = lines.index("| benchmark | figure | baseline (same run) | ratio | target | met? |")
    assert lines[header + 1] == "|---|---|---|---|---|---|"
    assert lines[header + 2] == (
        "| records_pipeline | records: upload -> stored on IPFS: 191 records/s "
        "| 300 (raw IPFS add + pin) | 0.635 | ratio >= 0.6 | yes |"
    )
    # a pipe inside a cell is escaped, so the table keeps its columns
    assert lines[header + 3] == "| webhooks | failed: RuntimeError: boom \\| bang | - | - | - | - |"

    saved = json.loads(document.read_text())
    assert saved["meta"] == meta
    assert saved["benchmarks"] == [
        {
            "name": "records_pipeline",
            "status": "ok",
            "reason": "",
            "seconds": 61.235,
            "result": {"rows": [ROW]},
        },
        {
            "name": "webhooks",
            "status": "failed",
            "reason": "RuntimeError: boom | bang",
            "seconds": 2.0,
            "result": {},
        },
    ]


def test_a_figure_that_is_not_a_number_is_refused_in_the_json(tmp_path: Path, meta: dict) -> None:
    outcomes = [Outcome("throughput", "ok", result={"rows": [{**ROW, "ratio": float("nan")}]})]
    with pytest.raises(ValueError):
        write_report(tmp_path, meta, outcomes, "x")


def test_a_bench_that_cannot_run_here_is_skipped_with_its_reason() -> None:
    def figures(*, quick: bool = False) -> dict:
        raise Unavailable("wrk is not installed (apt-get install -y wrk)")

    outcome = run_one("api_latency", True, importer(module("api_latency", figures=figures)))
    assert outcome.status == "skipped"
    assert outcome.reason == "wrk is not installed (apt-get install -y wrk)"
