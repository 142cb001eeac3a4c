"""Every benchmark in one command: a markdown table and a JSON file under bench/results/.

    .venv/bin/python -m bench [--quick] [--only a,b] [--skip a,b] [--out bench/results]

Each bench module ``bench.<name>`` exposes ``figures(quick=False) -> dict`` beside its
``main()``; the runner calls it in this process, one bench after the other, and never
reads a bench's printed output. The dict's ``rows`` are what the table shows (see
``bench._support.figure``: name, value and unit, the baseline measured in the same
run, their ratio, the issue's target and whether this run meets it); the whole dict
goes into the JSON. A module that is absent, or has no ``figures()`` yet, is listed
as skipped with the reason; a bench that raises is listed as failed with the error's
type and first line, and the others still run.

``--quick`` asks every bench for its small size (a few minutes in all on two cores).
The files are named after the date, the time and the core count
(``2026-12-06T0812Z-2cores.md`` and ``.json``) and record the load average at the
start and at the end, the git commit and the command line: the figures of a shared,
noisy machine mean little without them.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from bench._support import Unavailable

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RESULTS = PROJECT_ROOT / "bench" / "results"

# In the order they run: the cheap, CPU-only ones first, the long data loads last.
BENCHES = (
    "anchoring",
    "cid_speed",
    "document_cipher",
    "throughput",
    "paced_jobs",
    "idle_latency",
    "api_latency",
    "records_pipeline",
    "webhooks",
    "availability",
    "medicine_search",
    "ocr",
    "adherence",
    "job_history",
    "consultation_history",
    "audit_history",
    "audit_pages",
)


@dataclass
class Outcome:
    """What became of one bench in a run."""

    name: str
    status: str  # ok | skipped | failed
    reason: str = ""
    seconds: float = 0.0
    result: dict[str, Any] = field(default_factory=dict)

    def rows(self) -> list[dict[str, Any]]:
        rows = self.result.get("rows", [])
        return [row for row in rows if isinstance(row, dict)]


Importer = Callable[[str], ModuleType]


def _import(name: str) -> ModuleType:
    return importlib.import_module(f"bench.{name}")


def figures_of(module: ModuleType) -> Callable[..., dict[str, Any]] | None:
    """The module's ``figures`` function; a ``run`` that needs no argument and returns a dict
    is taken too (a bench written to the other convention)."""
    for name in ("figures", "run"):
        function = getattr(module, name, None)
        if not callable(function):
            continue
        try:
            parameters = inspect.signature(function).parameters.values()
        except (TypeError, ValueError):
            continue
        required = [
            p
            for p in parameters
            if p.default is inspect.Parameter.empty
            and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]
        if not required:
            return function
    return None


def _takes_quick(function: Callable[..., Any]) -> bool:
    parameters = inspect.signature(function).parameters
    return "quick" in parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
    )


def run_one(name: str, quick: bool, importer: Importer = _import) -> Outcome:
    try:
        module = importer(name)
    except ModuleNotFoundError as error:
        if error.name in (f"bench.{name}", "bench"):
            return Outcome(name, "skipped", f"no module bench.{name} in this checkout")
        return Outcome(name, "skipped", f"bench.{name} cannot be imported: {error}")
    function = figures_of(module)
    if function is None:
        return Outcome(
            name, "skipped", f"bench.{name} has no figures() returning a dict (only its main())"
        )
    started = time.monotonic()
    try:
        result = function(quick=quick) if _takes_quick(function) else function()
    except KeyboardInterrupt:
        raise
    except Unavailable as error:
        return Outcome(name, "skipped", str(error), time.monotonic() - started)
    except BaseException as error:  # SystemExit from a bench's own checks included
        traceback.print_exc()
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        return Outcome(
            name,
            "failed",
            f"{type(error).__name__}: {first}".rstrip(": "),
            time.monotonic() - started,
        )
    seconds = time.monotonic() - started
    if not isinstance(result, dict):
        return Outcome(name, "failed", f"figures() returned {type(result).__name__}", seconds)
    return Outcome(name, "ok", "", seconds, result)


def git_commit() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return f"{head}{' (with uncommitted changes)' if dirty else ''}" if head else "unknown"


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def machine() -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "host": platform.node(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


# --- the report --------------------------------------------------------------------------


def _number(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 1:
            return f"{value:,.2f}"
        return f"{value:.3g}"
    return str(value)


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _met(value: Any) -> str:
    if value is None:
        return "-"
    return "yes" if value else "**no**"


def table_rows(outcomes: Sequence[Outcome]) -> list[list[str]]:
    """benchmark, figure, baseline, ratio, target, met? — one line per figure; one line for a
    bench that was skipped or failed, saying why."""
    lines: list[list[str]] = []
    for outcome in outcomes:
        if outcome.status != "ok":
            lines.append([outcome.name, f"{outcome.status}: {outcome.reason}", "-", "-", "-", "-"])
            continue
        rows = outcome.rows()
        if not rows:
            lines.append([outcome.name, "ran; no figures reported", "-", "-", "-", "-"])
        for row in rows:
            figure = f"{row.get('name', '')}: {_number(row.get('value'))} {row.get('unit', '')}"
            baseline = "-"
            if row.get("baseline") is not None or row.get("baseline_name"):
                baseline = f"{_number(row.get('baseline'))} ({row.get('baseline_name') or ''})"
                baseline = baseline.replace(" ()", "")
            lines.append(
                [
                    outcome.name,
                    figure.strip(),
                    baseline,
                    _number(row.get("ratio")),
                    str(row.get("target") or "-"),
                    _met(row.get("met")),
                ]
            )
    return lines


def render_markdown(meta: dict[str, Any], outcomes: Sequence[Outcome]) -> str:
    headers = ["benchmark", "figure", "baseline (same run)", "ratio", "target", "met?"]
    out = [
        f"# Benchmarks, {meta['date']}",
        "",
        f"- machine: {meta['machine']['cores']} cores, {meta['machine']['platform']}, "
        f"Python {meta['machine']['python']}, host `{meta['machine']['host']}`",
        f"- load average (1, 5, 15 min): {meta['load_start']} at the start, "
        f"{meta['load_end']} at the end",
        f"- commit: `{meta['commit']}`",
        f"- command: `{meta['command']}`{' (quick sizes)' if meta['quick'] else ''}",
        f"- took {meta['seconds']:,.0f} s",
        "",
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
    ]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in table_rows(outcomes)]
    out += ["", "Ratios are against the baseline each bench measures in the same run (how: its"]
    out += ["module's text); the JSON beside this file holds every figure of every bench.", ""]
    return "\n".join(out)


def report_json(meta: dict[str, Any], outcomes: Sequence[Outcome]) -> str:
    document = {
        "meta": meta,
        "benchmarks": [
            {
                "name": o.name,
                "status": o.status,
                "reason": o.reason,
                "seconds": round(o.seconds, 3),
                "result": o.result,
            }
            for o in outcomes
        ],
    }
    return json.dumps(document, indent=2, default=str, allow_nan=False) + "\n"


def report_stem(started: datetime, cores: int | None) -> str:
    return f"{started.strftime('%Y-%m-%dT%H%MZ')}-{cores or 'unknown'}cores"


def write_report(
    folder: Path, meta: dict[str, Any], outcomes: Sequence[Outcome], stem: str
) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    markdown, document = folder / f"{stem}.md", folder / f"{stem}.json"
    markdown.write_text(render_markdown(meta, outcomes))
    document.write_text(report_json(meta, outcomes))
    return markdown, document


def _names(text: str | None) -> list[str]:
    return [n.strip() for n in (text or "").split(",") if n.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="every bench at its small size")
    parser.add_argument("--only", help=f"comma-separated, of: {', '.join(BENCHES)}")
    parser.add_argument("--skip", help="comma-separated benches not to run")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for the .md and .json")
    args = parser.parse_args(argv)
    chosen = _names(args.only) or list(BENCHES)
    unknown = [n for n in chosen + _names(args.skip) if n not in BENCHES]
    if unknown:
        parser.error(f"unknown benches: {', '.join(unknown)} (known: {', '.join(BENCHES)})")
    chosen = [n for n in chosen if n not in _names(args.skip)]

    started = datetime.now(UTC)
    clock = time.monotonic()
    load_start = load_average()
    outcomes: list[Outcome] = []
    for name in chosen:
        print(f"## bench.{name}", file=sys.stderr, flush=True)
        outcome = run_one(name, args.quick)
        print(
            f"## bench.{name}: {outcome.status}"
            f"{' - ' + outcome.reason if outcome.reason else ''} ({outcome.seconds:,.0f} s)",
            file=sys.stderr,
            flush=True,
        )
        outcomes.append(outcome)
    meta = {
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "load_start": load_start,
        "load_end": load_average(),
        "commit": git_commit(),
        "command": " ".join(["python -m bench", *(argv if argv is not None else sys.argv[1:])]),
        "quick": args.quick,
        "seconds": time.monotonic() - clock,
    }
    markdown, _ = write_report(args.out, meta, outcomes, report_stem(started, os.cpu_count()))
    print(markdown.read_text())
    print(f"written: {markdown} and {markdown.with_suffix('.json')}", file=sys.stderr)
    return 1 if any(o.status == "failed" for o in outcomes) else 0
