"""The accuracy bench's measure on a small sample of its corpus, through the real embedded
engine: the scoring itself (tests/support/scan_scoring.py) and the parser stay honest
between bench runs. The full corpus (116 pages) is ``python -m bench.ocr``'s, by hand."""

from __future__ import annotations

import pytest

from domain.adapters.scans.embedded import EmbeddedOcr
from domain.adapters.scans.images import PillowPages
from domain.adapters.scans.tesseract import TesseractOcr
from domain.scans.parsing import parse_prescription
from tests.support.prescription_images import LAYOUTS, sample
from tests.support.scan_catalogue import seeded_candidates
from tests.support.scan_scoring import Score


@pytest.mark.slow
async def test_a_sample_of_the_corpus_is_read_to_the_targets() -> None:
    # one page of each layout, clean, and two degraded (a JPEG and a PDF scan)
    samples = [sample(seed) for seed in range(len(LAYOUTS))] + [
        sample(1000, degraded=True),
        sample(2001, degraded=True, pdf=True),
    ]
    engine, pages, score = EmbeddedOcr(), PillowPages(), Score()

    for one in samples:
        lines = []
        for number, page in enumerate(pages.pages(one.data, one.media_type)):
            lines += await engine.read(page, number)
        misses = score.add(one, parse_prescription(lines, seeded_candidates()))
        assert not [m for m in misses if m.startswith("extra item")], misses

    assert score.lines == sum(len(one.items) for one in samples)
    for field in ("medicine", "strength", "frequency"):
        precision, recall, f1 = score.f1(field)
        assert f1 >= 0.9, (field, precision, recall)


@pytest.mark.slow
async def test_tesseract_reads_the_shadowed_and_tilted_pages_it_used_to_drop() -> None:
    """Degraded pages on which tesseract (``--psm 4``, no pre-processing) read no item at all
    (lit from one side, tilted): with the light evened out, the page deskewed and ``--psm 6``,
    every item is found."""
    samples = [sample(seed, degraded=True) for seed in (1004, 1006, 1008)]
    engine, pages, score = TesseractOcr(), PillowPages(), Score()

    for one in samples:
        lines = []
        for number, page in enumerate(pages.pages(one.data, one.media_type)):
            lines += await engine.read(page, number)
        misses = score.add(one, parse_prescription(lines, seeded_candidates()))
        assert not [m for m in misses if m.startswith(("no item", "extra item"))], misses

    for field in ("medicine", "strength", "dose"):
        precision, recall, f1 = score.f1(field)
        assert f1 >= 0.9, (field, precision, recall)
