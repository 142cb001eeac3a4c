"""The prescription parser over real-world lines as OCR reads them: clean, noisy (0/O, 1/l/I,
rn/m, glued and split units), in tables and free text; what it finds, how sure it is, and
what it leaves for a person to review."""

from __future__ import annotations

import pytest

from domain.scans.model import REVIEW_BELOW, OcrLine, ParsedPrescription
from domain.scans.parsing import parse_prescription
from tests.support.scan_catalogue import seeded_candidates

# line -> (generic, strength, dose amount, frequency notation, timing, duration days)
Row = tuple[str, str, str, str | None, str, str | None]
LINES: list[tuple[str, Row]] = [
    # clean, free text
    (
        "Amoxicillin 500 mg capsule 1 cap TID x 7 days",
        ("amoxicillin", "500 mg", "1", "TID", "any", "7"),
    ),
    ("Paracetamol 500 mg tab 2 tabs q6h PRN", ("paracetamol", "500 mg", "2", "PRN", "any", None)),
    ("Metformin 850 mg 1-0-1 for 30 days", ("metformin", "850 mg", "1", "1-0-1", "any", "30")),
    ("Amlodipine 5 mg 1 tab OD x 30 days", ("amlodipine", "5 mg", "1", "OD", "any", "30")),
    (
        "Atorvastatin 20 mg 1 tab at night x 1 month",
        ("atorvastatin", "20 mg", "1", "OD", "any", "30"),
    ),
    (
        "Omeprazole 20 mg 1 cap OD before meals x 14 days",
        ("omeprazole", "20 mg", "1", "OD", "before_meals", "14"),
    ),
    (
        "Ibuprofen 400 mg 1 tab TDS after meals x 5 days",
        ("ibuprofen", "400 mg", "1", "TID", "after_meals", "5"),
    ),
    ("Losartan 50 mg one tablet daily", ("losartan", "50 mg", "1", "OD", "any", None)),
    (
        "Azithromycin 500 mg 1 tab once daily x 3 days",
        ("azithromycin", "500 mg", "1", "OD", "any", "3"),
    ),
    (
        "Ciprofloxacin 500 mg 1 tab BID x 7 days",
        ("ciprofloxacin", "500 mg", "1", "BID", "any", "7"),
    ),
    ("Metronidazole 400 mg 1 tab TID x 7/7", ("metronidazole", "400 mg", "1", "TID", "any", "7")),
    (
        "Doxycycline 100 mg 1 cap BD x 10 days after food",
        ("doxycycline", "100 mg", "1", "BID", "after_meals", "10"),
    ),
    ("Furosemide 40 mg 1 tab mane", ("furosemide", "40 mg", "1", "OD", "any", None)),
    ("Warfarin 5 mg 1 tab OD in the evening", ("warfarin", "5 mg", "1", "OD", "any", None)),
    ("Enalapril 10 mg 1 tab BID x 2 weeks", ("enalapril", "10 mg", "1", "BID", "any", "14")),
    (
        "Gliclazide 60 mg MR 1 tab OD with breakfast",
        ("gliclazide", "60 mg", "1", "OD", "any", None),
    ),
    (
        "Prednisolone 5 mg 2 tabs OD x 5 days after meals",
        ("prednisolone", "5 mg", "2", "OD", "after_meals", "5"),
    ),
    (
        "Salbutamol inhaler 100 mcg 2 puffs QID PRN",
        ("salbutamol", "100 micrograms/dose", "2", "PRN", "any", None),
    ),
    (
        "Budesonide inhaler 200 mcg 1 puff BID",
        ("budesonide", "200 micrograms/dose", "1", "BID", "any", None),
    ),
    (
        "Levothyroxine 50 mcg 1 tab OD empty stomach",
        ("levothyroxine", "50 micrograms", "1", "OD", "empty_stomach", None),
    ),
    ("Clopidogrel 75 mg 1 tab daily", ("clopidogrel", "75 mg", "1", "OD", "any", None)),
    (
        "Simvastatin 40 mg 1 tab nocte x 3 months",
        ("simvastatin", "40 mg", "1", "OD", "at_bedtime", "90"),
    ),
    ("Spironolactone 25 mg 1 tab once a day", ("spironolactone", "25 mg", "1", "OD", "any", None)),
    (
        "Hydrochlorothiazide 25 mg 1 tab OD",
        ("hydrochlorothiazide", "25 mg", "1", "OD", "any", None),
    ),
    (
        "Fluconazole 150 mg 1 cap weekly x 4 weeks",
        ("fluconazole", "150 mg", "1", "WEEKLY", "any", "28"),
    ),
    (
        "Aciclovir 400 mg 1 tab 5 times a day x 5 days",
        ("aciclovir", "400 mg", "1", None, "any", "5"),
    ),
    ("Cefixime 400 mg 1 cap OD x 7 days", ("cefixime", "400 mg", "1", "OD", "any", "7")),
    ("Ondansetron 4 mg 1 tab q8h PRN", ("ondansetron", "4 mg", "1", "PRN", "any", None)),
    ("Sertraline 50 mg 1 tab OD x 30 days", ("sertraline", "50 mg", "1", "OD", "any", "30")),
    ("Diazepam 5 mg 1 tab at bedtime x 5 days", ("diazepam", "5 mg", "1", "OD", "at_bedtime", "5")),
    ("Propranolol 40 mg 1 tab twice a day", ("propranolol", "40 mg", "1", "BID", "any", None)),
    (
        "Glibenclamide 5 mg 1/2 tab OD before breakfast",
        ("glibenclamide", "5 mg", "1/2", "OD", "before_meals", None),
    ),
    ("Lisinopril 10 mg 1 tab every morning", ("lisinopril", "10 mg", "1", "OD", "any", None)),
    ("Cefalexin 500 mg 1 cap QID x 5 days", ("cefalexin", "500 mg", "1", "QID", "any", "5")),
    ("Loratadine 10 mg 1 tab OD PRN", ("loratadine", "10 mg", "1", "PRN", "any", None)),
    ("Paracetamol 500 mg 1-1-1-1 x 3 days", ("paracetamol", "500 mg", "1", "1-1-1-1", "any", "3")),
    (
        "Metformin 500 mg 1-0-1 after meals x 3 months",
        ("metformin", "500 mg", "1", "1-0-1", "after_meals", "90"),
    ),
    (
        "Metformin 1000 mg 1/2-0-1/2 for 30 days",
        ("metformin", "1000 mg", "1", "1/2-0-1/2", "any", "30"),
    ),
    (
        "Amoxicillin 250 mg/5 ml syrup 5 ml TDS x 5 days",
        ("amoxicillin", "250 mg/5 mL", "5", "TID", "any", "5"),
    ),
    (
        "Paracetamol syrup 120 mg/5 ml 5 ml q6h PRN",
        ("paracetamol", "120 mg/5 mL", "5", "PRN", "any", None),
    ),
    (
        "Ibuprofen susp 100 mg/5 ml 7.5 ml TID x 3 days",
        ("ibuprofen", "100 mg/5 mL", "7.5", "TID", "any", "3"),
    ),
    (
        "Azithromycin 200 mg/5 ml 5 ml OD x 3 days",
        ("azithromycin", "200 mg/5 mL", "5", "OD", "any", "3"),
    ),
    (
        "Ciprofloxacin 250mg 1 tab q12h x 5 days",
        ("ciprofloxacin", "250 mg", "1", "Q12H", "any", "5"),
    ),
    (
        "Omeprazole 40 mg 1 cap every other day",
        ("omeprazole", "40 mg", "1", "EVERY_2_DAYS", "any", None),
    ),
    ("Atorvastatin 10 mg 1 tab qhs", ("atorvastatin", "10 mg", "1", "OD", "any", None)),
    # brand names
    ("Panadol 500 mg 2 tabs TDS PRN", ("paracetamol", "500 mg", "2", "PRN", "any", None)),
    ("Augmentin", ("amoxicillin + clavulanic acid", None, "1", None, "any", None)),
    # dropped spaces, glued units
    ("Amoxicillin500mg 1cap TID x7days", ("amoxicillin", "500 mg", "1", "TID", "any", "7")),
    ("Paracetamol500mg 2tabs q6h PRN", ("paracetamol", "500 mg", "2", "PRN", "any", None)),
    ("Amlodipine5mg 1tab OD x30days", ("amlodipine", "5 mg", "1", "OD", "any", "30")),
    ("Ibuprofen 400mg1tab TID", ("ibuprofen", "400 mg", "1", "TID", "any", None)),
    ("Metformin850mg 1-0-1", ("metformin", "850 mg", "1", "1-0-1", "any", None)),
    ("Losartan 50 m g 1 tab OD", ("losartan", "50 mg", "1", "OD", "any", None)),
    ("Omeprazole 20 rng 1 cap OD", ("omeprazole", "20 mg", "1", "OD", "any", None)),
    ("Atorvastatin 40 mq 1 tab nocte", ("atorvastatin", "40 mg", "1", "OD", "at_bedtime", None)),
    # 0/O and 1/l/I
    ("Amoxicillin 5OO mg 1 cap TID x 7 days", ("amoxicillin", "500 mg", "1", "TID", "any", "7")),
    ("Paracetamol 5O0 mg 2 tabs QID", ("paracetamol", "500 mg", "2", "QID", "any", None)),
    ("Metformin 85O mg l-O-l", ("metformin", "850 mg", "1", "1-0-1", "any", None)),
    ("Amlodipine l0 mg l tab 0D", ("amlodipine", "10 mg", "1", "OD", "any", None)),
    (
        "Ciprofloxacin 5OO mg l tab BlD x 7 days",
        ("ciprofloxacin", "500 mg", "1", "BID", "any", "7"),
    ),
    ("Ibuprofen 4OO mg I tab TlD x 5 days", ("ibuprofen", "400 mg", "1", "TID", "any", "5")),
    ("Cefalexin 25O mg 1 cap Q1D", ("cefalexin", "250 mg", "1", "QID", "any", None)),
    ("Furosemide 2O mg l tab 0D", ("furosemide", "20 mg", "1", "OD", "any", None)),
    ("Enalapril 5 mg 1 tab B1D x l4 days", ("enalapril", "5 mg", "1", "BID", "any", "14")),
    ("Warfarin l mg 1 tab OD", ("warfarin", "1 mg", "1", "OD", "any", None)),
    ("Amlodipine 5 mg 1 tab q8b", ("amlodipine", "5 mg", "1", "Q8H", "any", None)),
    ("METFORMIN 850MG one tabs 012H 7 days", ("metformin", "850 mg", "1", "Q12H", "any", "7")),
    ("Flagyl 400 mg one tablet qé8h 5/7", ("metronidazole", "400 mg", "1", "Q8H", "any", "5")),
    ("Ciproxin 500 mg 1 tablet twiceaday 5/7", ("ciprofloxacin", "500 mg", "1", "BID", "any", "5")),
    (
        "Loratadine 10 mg 1 tablet every8hours 10 days",
        ("loratadine", "10 mg", "1", "Q8H", "any", "10"),
    ),
    (
        "Ciprofloxacin 500 mg one tabletBD 10 days",
        ("ciprofloxacin", "500 mg", "1", "BID", "any", "10"),
    ),
    # misspelt or misread names
    ("Arnoxicillin 500 mg 1 cap TID", ("amoxicillin", "500 mg", "1", "TID", "any", None)),
    ("Amoxici1lin 500 mg 1 cap TID", ("amoxicillin", "500 mg", "1", "TID", "any", None)),
    ("Paracetamo1 500 mg 2 tabs TID", ("paracetamol", "500 mg", "2", "TID", "any", None)),
    ("Metforrnin 500 mg 1 tab BID", ("metformin", "500 mg", "1", "BID", "any", None)),
    ("Amlodipin 5 mg 1 tab OD", ("amlodipine", "5 mg", "1", "OD", "any", None)),
    ("Omeprazol 20 mg 1 cap OD", ("omeprazole", "20 mg", "1", "OD", "any", None)),
    ("Atorvastatine 20 mg 1 tab OD", ("atorvastatin", "20 mg", "1", "OD", "any", None)),
    ("Ciprofloxacine 500 mg 1 tab BID", ("ciprofloxacin", "500 mg", "1", "BID", "any", None)),
    ("Azithromycine 250 mg 2 tabs OD", ("azithromycin", "250 mg", "2", "OD", "any", None)),
    ("Clopidogrei 75 mg 1 tab OD", ("clopidogrel", "75 mg", "1", "OD", "any", None)),
    # enumerations and bullets
    ("1. Amoxicillin 500 mg 1 cap TID x 7 days", ("amoxicillin", "500 mg", "1", "TID", "any", "7")),
    ("2) Paracetamol 500 mg 2 tabs QID", ("paracetamol", "500 mg", "2", "QID", "any", None)),
    ("- Losartan 50 mg 1 tab OD", ("losartan", "50 mg", "1", "OD", "any", None)),
    ("Rx: Metformin 500 mg 1 tab BID", ("metformin", "500 mg", "1", "BID", "any", None)),
    # words for the frequency
    (
        "Amlodipine 10 mg take one tablet once daily",
        ("amlodipine", "10 mg", "1", "OD", "any", None),
    ),
    (
        "Paracetamol 500 mg take 2 tablets every 6 hours as needed",
        ("paracetamol", "500 mg", "2", "PRN", "any", None),
    ),
    (
        "Cefixime 400 mg 1 cap once a day for 10 days",
        ("cefixime", "400 mg", "1", "OD", "any", "10"),
    ),
    (
        "Metformin 500 mg 1 tab three times a day with meals",
        ("metformin", "500 mg", "1", "TID", "with_meals", None),
    ),
    ("Losartan 25 mg 1 tab 2x/day", ("losartan", "25 mg", "1", "BID", "any", None)),
]


def _one_line(text: str) -> ParsedPrescription:
    line = OcrLine(text=text, box=(40.0, 100.0, 900.0, 130.0), confidence=0.98)
    return parse_prescription([line], seeded_candidates())


def test_the_table_is_large_enough() -> None:
    assert len(LINES) >= 80


@pytest.mark.parametrize(("text", "expected"), LINES, ids=[text for text, _ in LINES])
def test_a_line(text: str, expected: Row) -> None:
    generic, strength, amount, notation, timing, duration = expected
    parsed = _one_line(text)
    assert len(parsed.items) == 1
    item = parsed.items[0]
    assert item.medicine.name == generic
    assert item.strength.value == strength
    assert item.dose_amount.value == amount
    assert item.notation == notation
    assert item.timing.value == timing
    assert item.duration_days.value == duration


def test_an_unprinted_dose_is_a_suggestion_for_review() -> None:
    item = _one_line("Amlodipine 5 mg OD").items[0]
    assert item.dose_amount.value == "1"
    assert item.dose_amount.review
    assert item.needs_review


def test_a_clean_complete_line_needs_no_review() -> None:
    item = _one_line("Amoxicillin 500 mg 1 cap TID x 7 days").items[0]
    assert not item.needs_review
    assert item.medicine.confidence >= REVIEW_BELOW
    assert item.medicine.medicine_id == "amoxicillin|capsule"


def test_a_strength_the_medicine_does_not_have_is_for_review() -> None:
    item = _one_line("Amlodipine 7 mg 1 tab OD").items[0]
    assert item.strength.value == "7 mg"
    assert item.strength.review


def test_a_far_fetched_name_matches_nothing() -> None:
    parsed = _one_line("Zyxwvutron 20 mg 1 tab OD")
    assert parsed.items[0].medicine.medicine_id is None
    assert parsed.items[0].medicine.review


def test_an_unknown_frequency_is_left_empty_for_review() -> None:
    item = _one_line("Aciclovir 400 mg 1 tab 5 times a day").items[0]
    assert item.frequency.value is None
    assert item.frequency.review


def test_a_name_with_several_forms_and_nothing_to_choose_is_for_review() -> None:
    item = _one_line("Paracetamol 2 tabs").items[0]
    assert item.medicine.name == "paracetamol"
    assert item.form.value == "tablet"
    item = _one_line("Ibuprofen TID").items[0]
    assert item.medicine.review
    assert item.form.value is None


def _page(*rows: str | tuple[str, ...], confidence: float = 0.97) -> list[OcrLine]:
    """A page's lines, each row's cells side by side (a table) 40 px apart downwards."""
    lines = []
    for number, row in enumerate(rows):
        cells = (row,) if isinstance(row, str) else row
        for column, cell in enumerate(cells):
            left = 40.0 + column * 300.0
            top = 80.0 + number * 40.0 + column * 3.0  # cells of a row never align exactly
            lines.append(
                OcrLine(text=cell, box=(left, top, left + 280.0, top + 28.0), confidence=confidence)
            )
    return lines


def test_a_whole_page_with_header_table_and_signature() -> None:
    lines = _page(
        "Sunrise Medical Clinic, Phnom Penh",
        "Dr. Sok Dara, MD",
        ("Patient: Chan Vannak", "Date: 2026-11-12"),
        ("Medicine", "Dose", "Frequency", "Duration"),
        ("Amoxicillin 500 mg cap", "1 cap", "TID", "7 days"),
        ("Paracetamol 500 mg tab", "2 tabs", "q6h PRN", ""),
        ("Metformin 850 mg", "1 tab", "1-0-1", "30 days"),
        "Signature: ________",
    )
    parsed = parse_prescription(lines, seeded_candidates())
    assert parsed.prescriber.value == "Dr. Sok Dara"
    assert parsed.patient_name.value == "Chan Vannak"
    assert parsed.date.value == "2026-11-12"
    assert not parsed.date.review
    got = [
        (i.medicine.name, i.strength.value, i.dose_amount.value, i.notation, i.duration_days.value)
        for i in parsed.items
    ]
    assert got == [
        ("amoxicillin", "500 mg", "1", "TID", "7"),
        ("paracetamol", "500 mg", "2", "PRN", None),
        ("metformin", "850 mg", "1", "1-0-1", "30"),
    ]


def test_a_rotated_table_keeps_its_cells_in_their_rows() -> None:
    """A photo rotated 4°: a row's last cell sits ~70 px lower than its first, which is more
    than a row's height; the engine's baselines say by how much the page is skewed."""
    slope = 0.07
    rows = [
        ("Amoxicillin 500 mg", "1 cap", "TID", "7 days"),
        ("Losartan 50 mg", "1 tab", "BID", "30 days"),
    ]
    lines = []
    for number, cells in enumerate(rows):
        for column, cell in enumerate(cells):
            left = 40.0 + column * 330.0
            top = 100.0 + number * 45.0 + slope * (left + 140.0)
            box = (left, top, left + 280.0, top + 30.0)
            lines.append(OcrLine(text=cell, box=box, confidence=0.97, slope=slope))
    items = parse_prescription(lines, seeded_candidates()).items
    assert [(i.medicine.name, i.notation, i.duration_days.value) for i in items] == [
        ("amoxicillin", "TID", "7"),
        ("losartan", "BID", "30"),
    ]


def test_instructions_on_the_next_line_join_their_medicine() -> None:
    lines = _page(
        "Amoxicillin 500 mg capsules",
        "Sig: 1 cap TID x 7 days after meals",
        "Losartan 50 mg",
        "1 tab OD",
    )
    items = parse_prescription(lines, seeded_candidates()).items
    assert [
        (i.medicine.name, i.notation, i.duration_days.value, i.timing.value) for i in items
    ] == [
        ("amoxicillin", "TID", "7", "after_meals"),
        ("losartan", "OD", None, "any"),
    ]


def test_an_ambiguous_date_is_flagged_and_a_clear_one_is_not() -> None:
    ambiguous = parse_prescription(
        _page("Date: 03/11/2026", "Losartan 50 mg 1 tab OD"), seeded_candidates()
    )
    assert ambiguous.date.value == "2026-11-03"
    assert ambiguous.date.review
    clear = parse_prescription(
        _page("Date: 23/11/2026", "Losartan 50 mg 1 tab OD"), seeded_candidates()
    )
    assert clear.date.value == "2026-11-23"
    assert not clear.date.review
    words = parse_prescription(_page("Date: 5 Nov 2026"), seeded_candidates())
    assert words.date.value == "2026-11-05"


def test_low_ocr_confidence_flags_every_field() -> None:
    lines = _page("Amoxicillin 500 mg 1 cap TID x 7 days", confidence=0.6)
    item = parse_prescription(lines, seeded_candidates()).items[0]
    assert item.medicine.review and item.strength.review and item.frequency.review


def test_a_page_without_a_prescription_finds_nothing() -> None:
    lines = _page("The quick brown fox", "jumps over the lazy dog", "Invoice 2026/11")
    parsed = parse_prescription(lines, seeded_candidates())
    assert parsed.found_nothing
    assert parsed.prescriber.value is None and parsed.prescriber.review
    assert parse_prescription([], seeded_candidates()).found_nothing
