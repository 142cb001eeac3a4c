"""OCR accuracy and speed over the labelled corpus of generated prescriptions, per engine.

    .venv/bin/python -m bench.ocr [--engines embedded,tesseract] [--clean 60] [--degraded 40]
                                  [--pdfs 4]

Renders the corpus (tests/support/prescription_images.py: three layouts, five Debian fonts,
degraded copies rotated up to 5°, blurred, noisy, dim and JPEG-compressed, and one-page
PDFs), reads every page with each engine, parses it against the seeded catalogue and prints
field-level precision / recall / F1 (medicine, strength, dose, frequency, duration), line
exact-match, and seconds per page (p50, p95), clean and degraded apart. The first page of
each engine (model loading) is not timed.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from domain.adapters.scans.embedded import EmbeddedOcr
from domain.adapters.scans.images import PillowPages
from domain.adapters.scans.tesseract import TesseractOcr
from domain.scans.parsing import parse_prescription
from domain.scans.ports import OcrEngine
from tests.support.prescription_images import corpus
from tests.support.scan_catalogue import seeded_candidates
from tests.support.scan_scoring import FIELDS, Score

ENGINES: dict[str, type] = {"embedded": EmbeddedOcr, "tesseract": TesseractOcr}


async def run(engine: OcrEngine, samples: list, label: str) -> None:
    pages = PillowPages()
    scores = {"clean": Score(), "degraded": Score()}
    seconds: dict[str, list[float]] = {"clean": [], "degraded": []}
    await engine.read(pages.pages(samples[0].data, samples[0].media_type)[0], 0)  # warm up
    for sample in samples:
        group = "degraded" if sample.degraded else "clean"
        started = time.perf_counter()
        lines = []
        for number, page in enumerate(pages.pages(sample.data, sample.media_type)):
            lines += await engine.read(page, number)
        seconds[group].append(time.perf_counter() - started)
        scores[group].add(sample, parse_prescription(lines, seeded_candidates()))
    for group, score in scores.items():
        if not seconds[group]:
            continue
        cells = "  ".join(
            f"{name} {p:.3f}/{r:.3f}/{f:.3f}" for name in FIELDS for p, r, f in [score.f1(name)]
        )
        times = sorted(seconds[group])
        p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
        print(
            f"{label:10} {group:8} pages {len(times):3}  P/R/F1: {cells}  "
            f"exact lines {score.exact_match:.3f}  s/page p50 {statistics.median(times):.2f} "
            f"p95 {p95:.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engines", default="embedded,tesseract")
    parser.add_argument("--clean", type=int, default=60)
    parser.add_argument("--degraded", type=int, default=40)
    parser.add_argument("--pdfs", type=int, default=4)
    args = parser.parse_args()
    samples = corpus(args.clean, args.degraded, args.pdfs)
    for name in args.engines.split(","):
        asyncio.run(run(ENGINES[name](), samples, name))


if __name__ == "__main__":
    main()
