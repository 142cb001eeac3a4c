"""OCR accuracy and speed over the labelled corpus of generated prescriptions, per engine.

    .venv/bin/python -m bench.ocr [--engines embedded,tesseract] [--clean 60] [--degraded 50]
                                  [--pdfs 6] [--out bench/results] [--misses]

Renders the corpus (tests/support/prescription_images.py: 116 pages by default, four
layouts, nine DejaVu faces, varied notations; degraded copies rotated up to 5°, blurred,
noisy, dim, unevenly lit and JPEG-compressed; one-page PDFs, every other one degraded),
reads every page with each engine, parses it against the seeded catalogue and prints
field-level precision / recall / F1 (medicine, strength, dose, frequency, duration), line
exact-match, and seconds per page (p50, p95; and the CPU seconds a page cost, which the
machine's other work does not inflate), clean and degraded apart (a PDF counts with
its group). The first page of each engine (model loading) is not timed. The table is also
written to ``--out`` as ``ocr.md`` and ``ocr.json``, with what each engine read on each page
(``ocr-lines.json``): ``--rescore`` parses those lines again and prints the accuracy without
reading anything (a parser change measured in seconds; its times are the reading run's).
``--misses`` prints every field read wrong (the truth and what was read).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from bench._support import figure
from domain.adapters.scans.embedded import EmbeddedOcr
from domain.adapters.scans.images import PillowPages
from domain.adapters.scans.tesseract import TesseractOcr
from domain.scans.model import OcrLine
from domain.scans.parsing import parse_prescription
from domain.scans.ports import OcrEngine
from tests.support.prescription_images import Sample, corpus
from tests.support.scan_catalogue import seeded_candidates
from tests.support.scan_scoring import FIELDS, Score

ENGINES: dict[str, type] = {"embedded": EmbeddedOcr, "tesseract": TesseractOcr}
# issue 14's targets: F1 of these fields, clean and degraded; p50 s/page of the embedded engine
TARGET_FIELDS = ("medicine", "strength", "frequency")
TARGET_F1 = {"clean": 0.97, "degraded": 0.90}
TARGET_P50 = 2.0


Read = dict[str, tuple[list[OcrLine], float, float]]  # name -> (lines, seconds, CPU seconds)


def _cpu() -> float:
    """CPU seconds of this process and its finished children (tesseract runs as one): what a
    page costs whatever else the machine runs, where wall-clock time is at its mercy."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


async def read_all(engine: OcrEngine, samples: list[Sample]) -> Read:
    pages = PillowPages()
    await engine.read(pages.pages(samples[0].data, samples[0].media_type)[0], 0)  # warm up
    read: Read = {}
    for sample in samples:
        started, cpu = time.perf_counter(), _cpu()
        lines = []
        for number, page in enumerate(pages.pages(sample.data, sample.media_type)):
            lines += await engine.read(page, number)
        read[sample.name] = (lines, time.perf_counter() - started, _cpu() - cpu)
    return read


def score(samples: list[Sample], read: Read, label: str, misses: bool) -> list[dict]:
    scores = {"clean": Score(), "degraded": Score()}
    seconds: dict[str, list[float]] = {"clean": [], "degraded": []}
    cpu: dict[str, list[float]] = {"clean": [], "degraded": []}
    for sample in samples:
        group = "degraded" if sample.degraded else "clean"
        lines, took, used = read[sample.name]
        seconds[group].append(took)
        cpu[group].append(used)
        wrong = scores[group].add(sample, parse_prescription(lines, seeded_candidates()))
        if misses:
            for miss in wrong:
                print(f"  miss {label} {sample.name}: {miss}")
    rows = []
    for group, tally in scores.items():
        if not seconds[group]:
            continue
        times = sorted(seconds[group])
        row: dict = {
            "engine": label,
            "group": group,
            "pages": len(times),
            "lines": tally.lines,
            "fields": {
                name: dict(zip(("precision", "recall", "f1"), tally.f1(name), strict=True))
                for name in FIELDS
            },
            "exact_lines": tally.exact_match,
            "p50": statistics.median(times),
            "p95": times[min(len(times) - 1, int(0.95 * len(times)))],
            "cpu_p50": statistics.median(cpu[group]),
        }
        rows.append(row)
        cells = "  ".join(
            f"{name} {f['precision']:.3f}/{f['recall']:.3f}/{f['f1']:.3f}"
            for name, f in row["fields"].items()
        )
        print(
            f"{label:10} {group:8} pages {row['pages']:3}  P/R/F1: {cells}  "
            f"exact lines {row['exact_lines']:.3f}  s/page p50 {row['p50']:.2f} "
            f"p95 {row['p95']:.2f}  CPU s/page p50 {row['cpu_p50']:.2f}",
            flush=True,
        )
    return rows


def _targets(row: dict) -> str:
    """Which of issue 14's targets the row meets (F1 of medicine, strength, frequency)."""
    floor = TARGET_F1[row["group"]]
    missed = [n for n in TARGET_FIELDS if row["fields"][n]["f1"] < floor]
    verdict = f"F1 >= {floor}: " + ("met" if not missed else "missed (" + ", ".join(missed) + ")")
    if row["engine"] == "embedded":
        verdict += f"; p50 <= {TARGET_P50} s: " + ("met" if row["p50"] <= TARGET_P50 else "missed")
    return verdict


def _seconds(value: float | None) -> str:
    return "not measured" if value is None else f"{value:.2f}"


def markdown(rows: list[dict], header: str) -> str:
    lines = [
        header,
        "",
        "| engine | pages | lines | medicine P/R/F1 | strength P/R/F1 | dose P/R/F1 "
        "| frequency P/R/F1 | duration P/R/F1 | exact lines | s/page p50 / p95 | CPU s/page p50 "
        "| targets |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        cells = " | ".join(
            f"{f['precision']:.3f} / {f['recall']:.3f} / **{f['f1']:.3f}**"
            for f in row["fields"].values()
        )
        lines.append(
            f"| {row['engine']} | {row['group']} {row['pages']} | {row['lines']} | {cells} "
            f"| {row['exact_lines']:.3f} | {row['p50']:.2f} / {row['p95']:.2f} "
            f"| {_seconds(row.get('cpu_p50'))} | {_targets(row)} |"
        )
    return "\n".join(lines) + "\n"


def _saved(path: Path) -> dict[str, Read]:
    """What an earlier run read (a run before CPU times were kept counts them as 0)."""
    raw = msgspec.json.decode(path.read_bytes(), type=dict[str, dict[str, list[Any]]])
    return {
        engine: {
            name: (msgspec.convert(kept[0], list[OcrLine]), kept[1], (kept[2:] or [0.0])[0])
            for name, kept in pages.items()
        }
        for engine, pages in raw.items()
    }


def figures(quick: bool = False) -> dict[str, object]:
    """For ``python -m bench``: F1 of medicine, strength and frequency per engine, clean and
    degraded, and the embedded engine's p50 s/page, with issue 14's targets. Quick: 4 clean
    and 4 degraded pages, the embedded engine only. Writes no file."""
    clean, degraded, pdfs = (4, 4, 0) if quick else (60, 50, 6)
    engines = ["embedded"] if quick else list(ENGINES)
    samples = corpus(clean, degraded, pdfs)
    rows: list[dict] = []
    for name in engines:
        rows += score(samples, asyncio.run(read_all(ENGINES[name](), samples)), name, False)
    table = []
    for row in rows:
        floor = TARGET_F1[row["group"]]
        for field in TARGET_FIELDS:
            f1 = row["fields"][field]["f1"]
            table.append(
                figure(
                    f"{row['engine']}, {row['group']} {row['pages']} pages: {field} F1",
                    f1,
                    "",
                    target=f"F1 >= {floor}",
                    met=f1 >= floor,
                )
            )
        on_target = row["engine"] == "embedded"
        table.append(
            figure(
                f"{row['engine']}, {row['group']}: p50 (CPU p50 {row['cpu_p50']:.2f} s)",
                row["p50"],
                "s/page",
                target=f"p50 <= {TARGET_P50:g} s" if on_target else None,
                met=row["p50"] <= TARGET_P50 if on_target else None,
            )
        )
    return {
        "rows": table,
        "corpus": {"clean": clean, "degraded": degraded, "pdfs": pdfs},
        "engines": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engines", default="embedded,tesseract")
    parser.add_argument("--clean", type=int, default=60)
    parser.add_argument("--degraded", type=int, default=50)
    parser.add_argument("--pdfs", type=int, default=6)
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    parser.add_argument("--misses", action="store_true")
    parser.add_argument("--rescore", action="store_true")
    args = parser.parse_args()
    samples = corpus(args.clean, args.degraded, args.pdfs)
    load = os.getloadavg()
    print(f"corpus: {len(samples)} pages; load average {load[0]:.1f}", flush=True)
    saved = args.out / "ocr-lines.json"
    reads = _saved(saved) if args.rescore else {}
    rows: list[dict] = []
    for name in args.engines.split(","):
        if not args.rescore:
            reads[name] = asyncio.run(read_all(ENGINES[name](), samples))
        rows += score(samples, reads[name], name, args.misses)
    if args.rescore:
        return
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    header = (
        f"OCR corpus: {args.clean} clean PNGs, {args.degraded} degraded JPEGs, {args.pdfs} "
        f"PDFs ({len(samples)} pages); {os.cpu_count()} cores, load average "
        f"{load[0]:.1f} at the start; {when}."
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ocr.md").write_text(markdown(rows, header))
    saved.write_bytes(msgspec.json.encode(reads))
    (args.out / "ocr.json").write_text(
        json.dumps(
            {
                "corpus": {"clean": args.clean, "degraded": args.degraded, "pdfs": args.pdfs},
                "cores": os.cpu_count(),
                "load_average": load[0],
                "at": when,
                "rows": rows,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"written: {args.out / 'ocr.md'}, {args.out / 'ocr.json'}")


if __name__ == "__main__":
    main()
