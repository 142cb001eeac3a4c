"""The seeded catalogue (migration 0200's CSV) as the parser's candidates, generics and brands,
with the row number as a stand-in id: the parser's tests need the names, not a database."""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

from domain.scans.model import Candidate

SEED = Path(__file__).resolve().parents[2] / "domain/medicines/data/essential_medicines.csv"


@cache
def seeded_candidates() -> tuple[Candidate, ...]:
    candidates = []
    with SEED.open(newline="") as rows:
        for row in csv.DictReader(rows):
            strengths = tuple(s.strip() for s in row["strengths"].split(";") if s.strip())
            names = [row["generic_name"], *filter(None, row["brand_names"].split(";"))]
            candidates += [
                Candidate(
                    medicine_id=f"{row['generic_name']}|{row['dosage_form']}",
                    name=name.strip(),
                    generic_name=row["generic_name"],
                    dosage_form=row["dosage_form"],
                    strengths=strengths,
                )
                for name in names
            ]
    return tuple(candidates)
