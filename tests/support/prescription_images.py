"""A seeded corpus of prescription images with their ground truth: Pillow renders a clinic's
page in a Debian font (DejaVu, Liberation), in one of three layouts (free lines, a table, a
header-and-signature letter), optionally degraded (rotation up to 5°, blur, noise, dim
light, JPEG compression) or as a one-page PDF. The same seed gives the same image."""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont

FONTS = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationMono-Regular.ttf",
]
LAYOUTS = ("lines", "table", "letter")


@dataclass(frozen=True)
class Truth:
    """One item as the doctor meant it."""

    generic: str
    strength: str  # as the catalogue spells it
    printed: str  # "Amoxicillin 500 mg"
    dose: str  # "1"
    dose_word: str  # "cap"
    frequency: str  # as printed
    notation: str
    duration_days: str | None
    printed_duration: str


# (generic, catalogue strength, printed name and strength, dose, dose word)
MEDICINES = [
    ("amoxicillin", "500 mg", "Amoxicillin 500 mg", "1", "cap"),
    ("paracetamol", "500 mg", "Paracetamol 500 mg", "2", "tabs"),
    ("metformin", "850 mg", "Metformin 850 mg", "1", "tab"),
    ("amlodipine", "5 mg", "Amlodipine 5 mg", "1", "tab"),
    ("omeprazole", "20 mg", "Omeprazole 20 mg", "1", "cap"),
    ("ibuprofen", "400 mg", "Ibuprofen 400 mg", "1", "tab"),
    ("ciprofloxacin", "500 mg", "Ciprofloxacin 500 mg", "1", "tab"),
    ("atorvastatin", "20 mg", "Atorvastatin 20 mg", "1", "tab"),
    ("losartan", "50 mg", "Losartan 50 mg", "1", "tab"),
    ("azithromycin", "500 mg", "Azithromycin 500 mg", "1", "tab"),
    ("doxycycline", "100 mg", "Doxycycline 100 mg", "1", "cap"),
    ("furosemide", "40 mg", "Furosemide 40 mg", "1", "tab"),
    ("cefalexin", "500 mg", "Cefalexin 500 mg", "1", "cap"),
    ("metronidazole", "400 mg", "Metronidazole 400 mg", "1", "tab"),
    ("clopidogrel", "75 mg", "Clopidogrel 75 mg", "1", "tab"),
]
FREQUENCIES = [("TID", "TID"), ("BID", "BID"), ("OD", "OD"), ("QID", "QID"),
               ("1-0-1", "1-0-1"), ("q8h", "Q8H"), ("twice a day", "BID"),
               ("once daily", "OD"), ("1-1-1", "1-1-1")]  # fmt: skip
DURATIONS = [("x 7 days", "7"), ("for 5 days", "5"), ("x 14 days", "14"), ("x 30 days", "30"),
             ("for 10 days", "10"), ("", None)]  # fmt: skip
DOCTORS = ["Dr. Sok Dara", "Dr. Chea Sophal", "Dr. Lim Bora", "Dr. Keo Malis"]
PATIENTS = ["Chan Vannak", "Heng Srey Pov", "Mao Rithy", "Ouk Sreymom"]


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
    for generic, strength, printed, dose, word in chosen:
        frequency, notation = rng.choice(FREQUENCIES)
        printed_duration, days = rng.choice(DURATIONS)
        items.append(Truth(generic, strength, printed, dose, word, frequency, notation, days,
                           printed_duration))  # fmt: skip
    return tuple(items)


def _render(rng: random.Random, layout: str, items: tuple[Truth, ...], doctor: str,
            patient: str, day: int) -> Image.Image:  # fmt: skip
    font_path = rng.choice(FONTS)
    size = rng.randint(26, 34)
    font = ImageFont.truetype(font_path, size)
    bold = ImageFont.truetype(font_path, size + 6)
    image = Image.new("RGB", (1400, 1000 + 70 * len(items)), (252, 252, 248))
    draw = ImageDraw.Draw(image)
    y = 50

    def line(text: str, x: int = 70, use: ImageFont.FreeTypeFont = font) -> None:
        draw.text((x, y), text, fill=(20, 20, 30), font=use)

    line("Sunrise Medical Clinic  -  Phnom Penh", use=bold)
    y += 80
    line(f"{doctor}, MD")
    y += 60
    line(f"Patient: {patient}")
    line(f"Date: {day:02d}/11/2026", x=850)
    y += 90
    if layout == "table":
        for x, header in zip(
            (70, 560, 760, 1020), ("Medicine", "Dose", "Frequency", "Duration"), strict=True
        ):
            line(header, x=x)
        y += 55
        draw.line((70, y - 8, 1330, y - 8), fill=(90, 90, 90), width=2)
        for item in items:
            line(item.printed, x=70)
            line(f"{item.dose} {item.dose_word}", x=560)
            line(item.frequency, x=760)
            line(item.printed_duration.replace("x ", "").replace("for ", ""), x=1020)
            y += 65
    else:
        line("Rx", use=bold)
        y += 70
        for number, item in enumerate(items, start=1):
            if layout == "letter":
                line(f"{number}. {item.printed}")
                y += 50
                line(
                    f"Sig: {item.dose} {item.dose_word} {item.frequency} {item.printed_duration}",
                    x=120,
                )
            else:
                sig = f"{item.dose} {item.dose_word} {item.frequency} {item.printed_duration}"
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


def corpus(clean: int = 60, degraded: int = 40, pdfs: int = 4) -> list[Sample]:
    """The labelled corpus: ``clean`` + ``degraded`` images and ``pdfs`` one-page PDFs."""
    return (
        [sample(seed) for seed in range(clean)]
        + [sample(1000 + seed, degraded=True) for seed in range(degraded)]
        + [sample(2000 + seed, pdf=True) for seed in range(pdfs)]
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
