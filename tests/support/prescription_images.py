"""A seeded corpus of prescription images with their ground truth: Pillow renders a clinic's
page in one of nine DejaVu faces (sans, serif, mono, condensed, oblique, bold), in one of
four layouts (free lines, a table, a header-and-signature letter, dashed bullets), with
varied notations (generic or brand names, "500 mg" / "500mg" / upper case, "1 tab" / "one
tab" / "1/2 tab", OD BID TDS QDS q6h 1-0-1 b.i.d. nocte "every 8 hours", "x 7 days" "for 2
weeks" "x 5/7"), optionally degraded (rotation up to 5°, blur, noise, dim and uneven light,
JPEG compression) or as a one-page PDF (every other one a degraded scan). The same seed
gives the same image on any machine with Debian's fonts-dejavu-core and -extra."""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont

_DEJAVU = "/usr/share/fonts/truetype/dejavu/"
FONTS = [
    _DEJAVU + name
    for name in (
        "DejaVuSans.ttf",
        "DejaVuSerif.ttf",
        "DejaVuSansMono.ttf",
        "DejaVuSansCondensed.ttf",
        "DejaVuSerifCondensed.ttf",
        "DejaVuSans-Oblique.ttf",
        "DejaVuSerif-Italic.ttf",
        "DejaVuSans-Bold.ttf",
        "DejaVuSerifCondensed-Bold.ttf",
    )
]
LAYOUTS = ("lines", "table", "letter", "bullets")


@dataclass(frozen=True)
class Truth:
    """One item as the doctor meant it, and how it was printed."""

    generic: str
    strength: str  # as the catalogue spells it
    printed: str  # "Amoxicillin 500 mg", "AMOXIL 500MG"
    dose: str  # "1", "1/2"
    dose_word: str  # "cap"
    frequency: str  # as printed
    notation: str
    duration_days: str | None
    printed_duration: str
    printed_dose: str = ""  # "one", "1/2"; the dose itself when empty

    @property
    def sig_dose(self) -> str:
        return f"{self.printed_dose or self.dose} {self.dose_word}"


# (generic, catalogue strength, printed names (generic first, then brands), form)
MEDICINES = [
    ("amoxicillin", "500 mg", ("Amoxicillin", "Amoxil"), "capsule"),
    ("paracetamol", "500 mg", ("Paracetamol", "Panadol"), "tablet"),
    ("metformin", "850 mg", ("Metformin", "Glucophage"), "tablet"),
    ("amlodipine", "5 mg", ("Amlodipine", "Norvasc"), "tablet"),
    ("omeprazole", "20 mg", ("Omeprazole", "Losec"), "capsule"),
    ("ibuprofen", "400 mg", ("Ibuprofen", "Brufen"), "tablet"),
    ("ciprofloxacin", "500 mg", ("Ciprofloxacin", "Ciproxin"), "tablet"),
    ("atorvastatin", "20 mg", ("Atorvastatin", "Lipitor"), "tablet"),
    ("losartan", "50 mg", ("Losartan", "Cozaar"), "tablet"),
    ("azithromycin", "500 mg", ("Azithromycin", "Zithromax"), "tablet"),
    ("doxycycline", "100 mg", ("Doxycycline", "Vibramycin"), "capsule"),
    ("furosemide", "40 mg", ("Furosemide", "Lasix"), "tablet"),
    ("cefalexin", "500 mg", ("Cefalexin", "Keflex"), "capsule"),
    ("metronidazole", "400 mg", ("Metronidazole", "Flagyl"), "tablet"),
    ("clopidogrel", "75 mg", ("Clopidogrel", "Plavix"), "tablet"),
    ("enalapril", "10 mg", ("Enalapril", "Renitec"), "tablet"),
    ("bisoprolol", "5 mg", ("Bisoprolol", "Concor"), "tablet"),
    ("simvastatin", "40 mg", ("Simvastatin", "Zocor"), "tablet"),
    ("glibenclamide", "5 mg", ("Glibenclamide", "Daonil"), "tablet"),
    ("loratadine", "10 mg", ("Loratadine", "Claritin"), "tablet"),
    ("prednisolone", "5 mg", ("Prednisolone",), "tablet"),
    ("fluconazole", "150 mg", ("Fluconazole", "Diflucan"), "capsule"),
]
DOSE_WORDS = {"tablet": ("tab", "tabs", "tablet"), "capsule": ("cap", "caps", "capsule")}
# (as printed, the dose it means)
DOSES = [("1", "1"), ("1", "1"), ("2", "2"), ("one", "1"), ("two", "2"), ("1/2", "1/2")]
FREQUENCIES = [("TID", "TID"), ("BID", "BID"), ("OD", "OD"), ("QID", "QID"),
               ("1-0-1", "1-0-1"), ("q8h", "Q8H"), ("twice a day", "BID"),
               ("once daily", "OD"), ("1-1-1", "1-1-1"), ("b.i.d.", "BID"), ("TDS", "TID"),
               ("BD", "BID"), ("QDS", "QID"), ("q6h", "Q6H"), ("every 8 hours", "Q8H"),
               ("three times a day", "TID"), ("nocte", "OD"), ("t.i.d.", "TID"),
               ("1-0-0", "1-0-0"), ("Q12H", "Q12H")]  # fmt: skip
DURATIONS = [("x 7 days", "7"), ("for 5 days", "5"), ("x 14 days", "14"), ("x 30 days", "30"),
             ("for 10 days", "10"), ("", None), ("for 2 weeks", "14"), ("x 1 week", "7"),
             ("x 5/7", "5"), ("x 10 days", "10")]  # fmt: skip
DOCTORS = ["Dr. Sok Dara", "Dr. Chea Sophal", "Dr. Lim Bora", "Dr. Keo Malis"]
PATIENTS = ["Chan Vannak", "Heng Srey Pov", "Mao Rithy", "Ouk Sreymom"]
CLINICS = ["Sunrise Medical Clinic  -  Phnom Penh", "Angkor Family Practice, Siem Reap",
           "Mekong Health Centre - Kampong Cham"]  # fmt: skip


@dataclass(frozen=True)
class Sample:
    name: str
    data: bytes
    media_type: str
    items: tuple[Truth, ...]
    prescriber: str
    patient: str
    date: str  # ISO
    degraded: bool


def _items(rng: random.Random) -> tuple[Truth, ...]:
    chosen = rng.sample(MEDICINES, rng.randint(1, 4))
    items = []
    for generic, strength, names, form in chosen:
        name = rng.choice(names)
        amount, unit = strength.split()
        printed_strength = rng.choice((f"{amount} {unit}", f"{amount}{unit}"))
        printed = f"{name} {printed_strength}"
        if rng.random() < 0.25:
            printed = printed.upper()
        printed_dose, dose = rng.choice(DOSES if form == "tablet" else DOSES[:-1])
        word = rng.choice(DOSE_WORDS[form])
        frequency, notation = rng.choice(FREQUENCIES)
        printed_duration, days = rng.choice(DURATIONS)
        items.append(
            Truth(generic, strength, printed, dose, word, frequency, notation, days,
                  printed_duration, printed_dose if printed_dose != dose else "")
        )  # fmt: skip
    return tuple(items)


def _render(rng: random.Random, layout: str, items: tuple[Truth, ...], doctor: str,
            patient: str, day: int) -> Image.Image:  # fmt: skip
    font_path = rng.choice(FONTS)
    size = rng.randint(26, 34)
    font = ImageFont.truetype(font_path, size)
    bold = ImageFont.truetype(font_path, size + 6)
    # a table's columns as wide as their widest cell: no cell runs into the next
    cells = [("Medicine", "Dose", "Frequency", "Duration")] + [
        (item.printed, item.sig_dose, item.frequency,
         item.printed_duration.replace("x ", "").replace("for ", ""))
        for item in items
    ]  # fmt: skip
    xs = [70]
    for column in range(3):
        xs.append(xs[-1] + 50 + int(max(font.getlength(row[column]) for row in cells)))
    width = max(1400, xs[-1] + int(max(font.getlength(row[3]) for row in cells)) + 70)
    image = Image.new("RGB", (width, 1000 + 70 * len(items)), (252, 252, 248))
    draw = ImageDraw.Draw(image)
    y = 50

    def line(text: str, x: int = 70, use: ImageFont.FreeTypeFont = font) -> None:
        draw.text((x, y), text, fill=(20, 20, 30), font=use)

    line(rng.choice(CLINICS), use=bold)
    y += 80
    line(f"{doctor}, MD")
    y += 60
    line(f"Patient: {patient}")
    line(f"Date: {day:02d}/11/2026", x=850)
    y += 90
    if layout == "table":
        for x, header in zip(xs, cells[0], strict=True):
            line(header, x=x)
        y += 55
        draw.line((70, y - 8, width - 70, y - 8), fill=(90, 90, 90), width=2)
        for row in cells[1:]:
            for x, cell in zip(xs, row, strict=True):
                line(cell, x=x)
            y += 65
    else:
        line("Rx", use=bold)
        y += 70
        for number, item in enumerate(items, start=1):
            sig = f"{item.sig_dose} {item.frequency} {item.printed_duration}".strip()
            if layout == "letter":
                line(f"{number}. {item.printed}")
                y += 50
                line(f"Sig: {sig}", x=120)
            elif layout == "bullets":
                line(f"- {item.printed}  -  {sig}")
            else:
                line(f"{number}. {item.printed} {sig}")
            y += 70
    y += 60
    line("Signature: ______________", x=800)
    return image


def _degrade(rng: random.Random, image: Image.Image) -> Image.Image:
    image = image.rotate(rng.uniform(-5, 5), expand=True, fillcolor=(250, 250, 245),
                         resample=Image.Resampling.BICUBIC)  # fmt: skip
    image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.4, 1.3)))
    image = ImageEnhance.Brightness(image).enhance(rng.uniform(0.65, 0.95))
    image = ImageEnhance.Contrast(image).enhance(rng.uniform(0.6, 0.9))
    # uneven light: a shadow falling across the page from one side
    shade = Image.linear_gradient("L").rotate(rng.choice((0, 90, 180, 270)))
    depth = rng.uniform(0.2, 0.45)
    shade = shade.resize(image.size).point(lambda v: 255 - int(v * depth))
    image = Image.composite(image, Image.new("RGB", image.size, (0, 0, 0)), shade)
    noise = Image.effect_noise(image.size, rng.uniform(10, 30)).convert("RGB")
    return Image.blend(image, noise, rng.uniform(0.05, 0.15))


def sample(
    seed: int, *, degraded: bool = False, pdf: bool = False, layout: str | None = None
) -> Sample:
    rng = random.Random(seed)
    items = _items(rng)
    layout = layout or LAYOUTS[seed % len(LAYOUTS)]
    doctor, patient, day = rng.choice(DOCTORS), rng.choice(PATIENTS), rng.randint(13, 28)
    image = _render(rng, layout, items, doctor, patient, day)
    if degraded:
        image = _degrade(rng, image)
    out = io.BytesIO()
    if pdf:
        image.save(out, format="PDF", resolution=150.0)
        media_type = "application/pdf"
    elif degraded:
        image.save(out, format="JPEG", quality=rng.randint(45, 75))
        media_type = "image/jpeg"
    else:
        image.save(out, format="PNG")
        media_type = "image/png"
    return Sample(
        name=f"{layout}-{seed}{'-degraded' if degraded else ''}{'-pdf' if pdf else ''}",
        data=out.getvalue(),
        media_type=media_type,
        items=items,
        prescriber=doctor,
        patient=patient,
        date=f"2026-11-{day:02d}",
        degraded=degraded,
    )


def corpus(clean: int = 60, degraded: int = 50, pdfs: int = 6) -> list[Sample]:
    """The labelled corpus: ``clean`` PNGs, ``degraded`` JPEGs and ``pdfs`` one-page PDFs,
    every other PDF a degraded scan (116 pages by default)."""
    return (
        [sample(seed) for seed in range(clean)]
        + [sample(1000 + seed, degraded=True) for seed in range(degraded)]
        + [sample(2000 + seed, pdf=True, degraded=seed % 2 == 1) for seed in range(pdfs)]
    )


def write(directory: Path, samples: list[Sample]) -> None:
    """The images on disk, to look at (``python -m tests.support.prescription_images DIR``)."""
    directory.mkdir(parents=True, exist_ok=True)
    for one in samples:
        suffix = {"image/png": "png", "image/jpeg": "jpg", "application/pdf": "pdf"}[one.media_type]
        (directory / f"{one.name}.{suffix}").write_bytes(one.data)


if __name__ == "__main__":
    import sys

    write(Path(sys.argv[1]), corpus())
