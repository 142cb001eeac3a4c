"""OCR's usual confusions, undone where the context says which reading is meant.

A digit-shaped letter inside a number (``5OO`` → ``500``, ``l0`` → ``10``), a letter-shaped
digit inside an abbreviation (``B1D`` → ``BID``, ``0D`` → ``OD``), ``rn`` read for ``m`` in a
unit (``500rng``), ``0`` read for the ``Q`` of an interval (``012H``), words glued to numbers
(``Amoxicillin500mg``) or to an abbreviation (``tabletBD``), words run together
(``twiceaday``, ``every8hours``), a stray mark in an interval (``qé8h``), units split apart
(``500 m g``). Names are compared through ``skeleton``, which folds every confusable shape to
one letter, so ``Arnoxici1lin`` and ``amoxicillin`` look alike.
"""

from __future__ import annotations

import re

DIGIT_LOOKALIKES = str.maketrans({"O": "0", "o": "0", "Q": "0", "D": "0", "l": "1", "I": "1",
                                  "|": "1", "i": "1", "!": "1", "S": "5", "s": "5", "Z": "2",
                                  "B": "8"})  # fmt: skip
LETTER_LOOKALIKES = str.maketrans({"0": "O", "1": "I", "l": "I", "|": "I", "!": "I", "5": "S"})
ABBREVIATIONS = frozenset(
    {"OD", "QD", "BID", "BD", "TID", "TDS", "QID", "QDS", "PRN", "SOS", "HS", "QHS", "QAM",
     "QPM", "QOD", "EOD", "QW", "STAT", "AC", "PC"}
)  # fmt: skip
UNITS = r"(?:mg|mcg|micrograms?|µg|ug|g|ml|mL|iu|IU|units?|%)"
_UNIT_FIXES = [
    (re.compile(r"(?<=\d)\s*(?:rn|m)\s?(?:g|q|9)\b"), " mg"),
    (re.compile(r"(?<=\d)\s*(?:rn|m)\s?c\s?(?:g|q)\b"), " mcg"),
    (re.compile(r"(?<=\d)\s*(?:rn|m)\s?(?:l|I|1)\b"), " ml"),
    (re.compile(r"(?<=\d)\s*(?:µg|ug)\b"), " mcg"),
]
# a token made of digits and digit-shaped letters, with at least one true digit
_NUMBERISH = re.compile(
    r"(?<![A-Za-z])([0-9OoQlI|!]*\d[0-9OoQlI|!]*(?:[.,/][0-9OoQlI|!]+)?)(?![A-Za-z])"
)
_NUMBER_BEFORE_UNIT = re.compile(r"\b([0-9OolI|]{1,5})(?=\s*(?:mg|mcg|ml|g)\b)")
_DASHES = re.compile(r"(?<![\w/])([0-9OolI|½]{1,3}(?:\s*[-+]\s*[0-9OolI|½/]{1,3}){2,3})(?![\w/])")
_GLUED = re.compile(r"([A-Za-z]{3,})(?=[0-9OolI]*\d[0-9OolI]*(?:[.,]\d+)?\s*(?:mg|mcg|ml|g|%)?\b)")
_LONE_ONE = re.compile(r"(?<![\w.])[lI|](?=\s+(?:tab|tabs|tablets?|caps?|capsules?|puffs?)\b)")


def _digits(match: re.Match[str]) -> str:
    return match.group(1).translate(DIGIT_LOOKALIKES)


def _abbreviation(token: str) -> str:
    fixed = token.translate(LETTER_LOOKALIKES).upper().replace(".", "")
    if fixed in ABBREVIATIONS and any(ch.isdigit() or ch in "l|!" for ch in token):
        return fixed
    return token


def clean_line(text: str) -> str:
    """The line with OCR's confusions undone and numbers, units and words apart."""
    text = text.replace("\u2014", "-").replace("\u2013", "-").replace("\u00d7", "x")
    text = _GLUED.sub(r"\1 ", text)  # Amoxicillin500mg
    text = re.sub(r"(?<=\d)(?=(?:tabs?|caps?|days?|weeks?|months?)\b)", " ", text)
    text = re.sub(r"\b[xX](?=\d)", "x ", text)  # x7 days
    text = _DASHES.sub(lambda m: m.group(1).translate(DIGIT_LOOKALIKES), text)
    text = _NUMBER_BEFORE_UNIT.sub(_digits, text)
    text = _NUMBERISH.sub(_digits, text)
    text = _LONE_ONE.sub("1", text)
    text = re.sub(r"\b([qQ])\s?(\d{1,2})\s?[bn]\b", r"\1\2h", text)  # q8b: an h read as b
    text = re.sub(r"\b0(\d{1,2})\s?[hH]\b", r"Q\1H", text)  # 012H: a Q read as 0
    text = re.sub(r"\b([qQ])[^\x00-\x7f]\s?(?=\d{1,2}\s?[hH]\b)", r"\1", text)  # qé8h
    text = re.sub(r"\b(every)(?=\d)", r"\1 ", text)  # every8hours
    text = re.sub(r"\b(once|twice|thrice)a(day|week)\b", r"\1 a \2", text)  # twiceaday
    text = re.sub(r"\b(tabs?|tablets?|caps?|capsules?)(?=[A-Z]{2,3}\b)", r"\1 ", text)  # tabletBD
    for pattern, unit in _UNIT_FIXES:
        text = pattern.sub(unit, text)
    text = re.sub(r"(?<=\d)(?=(?:mg|mcg|ml|g|iu|IU|%)\b)", " ", text)  # 500mg → 500 mg
    text = " ".join(_abbreviation(token) for token in text.split())
    return text


def skeleton(word: str) -> str:
    """``word`` with every OCR-confusable shape folded to one letter, for fuzzy comparison."""
    folded = word.lower().replace("rn", "m").replace("vv", "w").replace("cl", "d")
    return folded.translate(str.maketrans("01|!i5", "olllls"))
