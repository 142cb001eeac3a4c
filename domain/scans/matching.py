"""A printed medicine name matched to the catalogue, fuzzily, through OCR's confusions.

The catalogue comes in as candidates (generic names and brands): the parser does no IO.
Similarity is difflib's ratio of the two names' skeletons (domain/scans/noise.py), so
``Arnoxici1lin`` scores as ``amoxicillin`` does; below ``MATCH_AT_LEAST`` nothing matches.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from domain.scans.model import Candidate
from domain.scans.noise import skeleton

MATCH_AT_LEAST = 0.72
SHORT_MATCH_AT_LEAST = 0.88  # a short word is like too many names by chance ("over", Provera)
SHORT = 6
MAX_WORDS = 4
# words of a prescription line that are never (part of) a medicine's name
NOT_NAMES = frozenset(
    [
        "tab",
        "tabs",
        "tablet",
        "tablets",
        "cap",
        "caps",
        "capsule",
        "capsules",
        "syrup",
        "susp",
        "suspension",
        "solution",
        "inhaler",
        "puff",
        "puffs",
        "take",
        "daily",
        "days",
        "day",
        "weeks",
        "week",
        "month",
        "months",
        "after",
        "before",
        "with",
        "meals",
        "meal",
        "food",
        "morning",
        "evening",
        "night",
        "bedtime",
        "once",
        "twice",
        "times",
        "for",
        "and",
        "the",
        "every",
        "hours",
        "hour",
        "oral",
        "sachet",
        "drops",
        "drop",
        "dose",
        "doses",
        "sig",
        "signature",
        "patient",
        "name",
        "date",
        "doctor",
        "clinic",
        "hospital",
    ]
)


@dataclass(frozen=True, slots=True)
class NameMatch:
    candidates: tuple[Candidate, ...]  # every catalogue entry of the best name (its forms)
    printed: str
    similarity: float
    start: int  # the printed name's span in the line
    end: int


class Catalogue:
    """The candidates, prepared once for many lines."""

    def __init__(self, candidates: Sequence[Candidate]) -> None:
        # by how many words the name has, then by its skeleton
        self._by_skeleton: dict[int, dict[str, list[Candidate]]] = {}
        for candidate in candidates:
            words = len(re.findall(r"[a-z]+", candidate.name.lower()))
            key = skeleton(re.sub(r"[^a-z]", "", candidate.name.lower()))
            self._by_skeleton.setdefault(words, {}).setdefault(key, []).append(candidate)

    def best(self, line: str) -> NameMatch | None:
        words = [
            m for m in re.finditer(r"[A-Za-z][A-Za-z0-9|!+\-]*", line)
            if m.group().lower() not in NOT_NAMES
        ]  # fmt: skip
        best: NameMatch | None = None
        for i in range(len(words)):
            for j in range(i, min(i + MAX_WORDS, len(words))):
                if any(words[k].group().lower() in NOT_NAMES for k in range(i, j + 1)):
                    break
                printed = line[words[i].start() : words[j].end()]
                key = skeleton(re.sub(r"[^A-Za-z0-9|!]", "", printed))
                if len(key) < 4:
                    continue
                for name, candidates in self._by_skeleton.get(j - i + 1, {}).items():
                    matcher = SequenceMatcher(None, key, name, autojunk=False)
                    least = SHORT_MATCH_AT_LEAST if len(key) < SHORT else MATCH_AT_LEAST
                    floor = max(best.similarity, least) if best else least
                    if matcher.real_quick_ratio() < floor or matcher.quick_ratio() < floor:
                        continue
                    similarity = matcher.ratio()
                    longer = best is None or len(printed) > len(best.printed)
                    if similarity > floor or (similarity == floor and longer):
                        best = NameMatch(
                            tuple(candidates), printed, similarity, words[i].start(), words[j].end()
                        )
        return best
