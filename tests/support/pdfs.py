"""PDFs for tests, good and hostile, built in memory (by pypdf itself or byte by byte).

Nothing here holds PHI: text is filler, so a PDF may be logged or echoed by
mistake without failing the suite's PHI log scan for the wrong reason.
"""

from __future__ import annotations

import io
import random
import struct
import zlib

from pypdf import PdfWriter
from pypdf.actions import JavaScript
from pypdf.generic import (
    ArrayObject,
    BooleanObject,
    DecodedStreamObject,
    DictionaryObject,
    NameObject,
    NumberObject,
    TextStringObject,
)

FILLER_WORDS = ("lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit")
SCRIPT = "app.alert('hello');"


def valid_pdf(pages: int = 1, text_size: int = 0) -> bytes:
    """A plain PDF of ``pages`` Letter pages, each showing ``text_size`` characters of filler."""
    writer = PdfWriter()
    font = writer._add_object(
        DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type1"),
                NameObject("/BaseFont"): NameObject("/Helvetica"),
            }
        )
    )
    for number in range(pages):
        page = writer.add_blank_page(612, 792)
        if text_size:
            page[NameObject("/Resources")] = DictionaryObject(
                {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}
            )
            content = DecodedStreamObject()
            content.set_data(_text_operators(filler_text(text_size, seed=number)))
            page[NameObject("/Contents")] = writer._add_object(content)
    return _written(writer)


def filler_text(size: int, seed: int = 0) -> str:
    """``size`` characters of lower-case words and spaces (nothing a PDF string must escape)."""
    rng = random.Random(seed)
    words: list[str] = []
    length = 0
    while length < size:
        word = rng.choice(FILLER_WORDS)
        words.append(word)
        length += len(word) + 1
    return " ".join(words)[:size]


def pdf_with_javascript() -> bytes:
    """Document-level JavaScript: the /Names /JavaScript tree a viewer runs on open."""
    writer = _one_page_writer()
    writer.add_open_action(JavaScript(SCRIPT))
    return _written(writer)


def pdf_with_open_action_javascript() -> bytes:
    """The catalog's /OpenAction is a JavaScript action."""
    writer = _one_page_writer()
    writer.root_object[NameObject("/OpenAction")] = _action("/JavaScript", SCRIPT)
    return _written(writer)


def pdf_with_open_action_uri() -> bytes:
    """An /OpenAction that opens a web address by itself (no script, still not a page jump)."""
    writer = _one_page_writer()
    action = DictionaryObject(
        {
            NameObject("/S"): NameObject("/URI"),
            NameObject("/URI"): TextStringObject("https://example.org/track"),
        }
    )
    writer.root_object[NameObject("/OpenAction")] = action
    return _written(writer)


def pdf_with_chained_javascript() -> bytes:
    """An innocent-looking /OpenAction (go to page 1) whose /Next action is JavaScript."""
    writer = _one_page_writer()
    goto = _goto(writer)
    goto[NameObject("/Next")] = writer._add_object(_action("/JavaScript", SCRIPT))
    writer.root_object[NameObject("/OpenAction")] = goto
    return _written(writer)


def pdf_with_page_open_javascript() -> bytes:
    """A page's additional actions run JavaScript when the page opens (/AA /O)."""
    writer = _one_page_writer()
    writer.pages[0][NameObject("/AA")] = DictionaryObject(
        {NameObject("/O"): _action("/JavaScript", SCRIPT)}
    )
    return _written(writer)


def pdf_with_link_javascript() -> bytes:
    """A link annotation whose click action is JavaScript."""
    writer = _one_page_writer()
    writer.add_annotation(0, _link(_action("/JavaScript", SCRIPT)))
    return _written(writer)


def pdf_with_launch_link() -> bytes:
    """A link annotation that launches a program."""
    writer = _one_page_writer()
    launch = DictionaryObject(
        {
            NameObject("/S"): NameObject("/Launch"),
            NameObject("/F"): TextStringObject("calc.exe"),
        }
    )
    writer.add_annotation(0, _link(launch))
    return _written(writer)


def pdf_with_bookmark_javascript() -> bytes:
    """A bookmark (outline item) that runs JavaScript when clicked."""
    writer = _one_page_writer()
    writer.add_outline_item(title="Chapter 1", page_number=0)
    item = writer.root_object["/Outlines"]["/First"]
    item[NameObject("/A")] = _action("/JavaScript", SCRIPT)
    return _written(writer)


def pdf_with_form_field_javascript() -> bytes:
    """A form field (not on any page) with a keystroke script in its additional actions."""
    writer = _one_page_writer()
    field = DictionaryObject(
        {
            NameObject("/FT"): NameObject("/Tx"),
            NameObject("/T"): TextStringObject("amount"),
            NameObject("/AA"): DictionaryObject({NameObject("/K"): _action("/JavaScript", SCRIPT)}),
        }
    )
    form = DictionaryObject({NameObject("/Fields"): ArrayObject([writer._add_object(field)])})
    writer.root_object[NameObject("/AcroForm")] = writer._add_object(form)  # as real files have it
    return _written(writer)


XFA_WITH_SCRIPT = b"""<?xml version="1.0"?><xdp:xdp xmlns:xdp="http://ns.adobe.com/xdp/">
<template xmlns="http://www.xfa.org/schema/xfa-template/3.3/"><subform name="f" layout="tb">
<event activity="initialize"><script contentType="application/x-javascript">app.alert(1);</script>
</event></subform></template></xdp:xdp>"""


def pdf_with_xfa_form(*, needs_rendering: bool = False) -> bytes:
    """An XFA form (its template may hold scripts a viewer runs on opening), as an /XFA array
    of packets in the AcroForm; optionally with /NeedsRendering (a dynamic XFA document)."""
    writer = _one_page_writer()
    template = DecodedStreamObject()
    template.set_data(XFA_WITH_SCRIPT)
    writer.root_object[NameObject("/AcroForm")] = DictionaryObject(
        {
            NameObject("/Fields"): ArrayObject(),
            NameObject("/XFA"): ArrayObject(
                [TextStringObject("template"), writer._add_object(template)]
            ),
        }
    )
    if needs_rendering:
        writer.root_object[NameObject("/NeedsRendering")] = BooleanObject(True)
    return _written(writer)


def pdf_with_needs_rendering_only() -> bytes:
    """/NeedsRendering alone: the viewer is told to build the pages from XFA it must run."""
    writer = _one_page_writer()
    writer.root_object[NameObject("/NeedsRendering")] = BooleanObject(True)
    return _written(writer)


def pdf_with_harmless_links() -> bytes:
    """What real documents hold and we accept: open at page 1 (an array and a GoTo action),
    a web link, and a bookmark that jumps to a page."""
    writer = PdfWriter()
    for _ in range(2):
        writer.add_blank_page(612, 792)
    first = writer.pages[0].indirect_reference
    writer.root_object[NameObject("/OpenAction")] = ArrayObject([first, NameObject("/Fit")])
    writer.add_outline_item(title="Chapter 1", page_number=1)
    writer.add_annotation(
        0,
        _link(
            DictionaryObject(
                {
                    NameObject("/S"): NameObject("/URI"),
                    NameObject("/URI"): TextStringObject("https://example.org/"),
                }
            )
        ),
    )
    writer.pages[1][NameObject("/AA")] = DictionaryObject({NameObject("/O"): _goto(writer)})
    return _written(writer)


def pdf_with_action_cycle() -> bytes:
    """A page-jump open action whose /Next chain loops back to itself (harmless, but endless)."""
    writer = _one_page_writer()
    goto = _goto(writer)
    reference = writer._add_object(goto)
    goto[NameObject("/Next")] = reference
    writer.root_object[NameObject("/OpenAction")] = reference
    return _written(writer)


def encrypted_pdf(user_password: str = "secret", owner_password: str | None = None) -> bytes:
    """A one-page PDF under AES-256; ``user_password=""`` makes one that opens without asking."""
    writer = _one_page_writer()
    writer.encrypt(user_password, owner_password, algorithm="AES-256")
    return _written(writer)


def truncated_pdf() -> bytes:
    """The first half of a valid PDF, as an interrupted upload would leave it."""
    whole = valid_pdf(pages=3, text_size=500)
    return whole[: len(whole) // 2]


def garbage_pdf(size: int = 4096) -> bytes:
    """A PDF header followed by noise: passes a magic-byte sniff, fails any parser."""
    return b"%PDF-1.7\n" + random.Random(7).randbytes(size)


def not_a_pdf() -> bytes:
    """A text file, as if renamed to .pdf."""
    return b"Dear doctor,\nthis is a plain text file with a .pdf name.\n" * 20


def png_image() -> bytes:
    """A valid 1x1 PNG."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def large_pdf(size_bytes: int) -> bytes:
    """A valid one-page PDF of exactly ``size_bytes`` (an embedded file pads it), for size limits.

    The padding is stored uncompressed, so the checker's work stays small however large the file.
    """
    overhead = len(_pdf_with_attachment(0))
    if size_bytes < overhead:
        raise ValueError(f"a PDF with an attachment is at least {overhead} bytes")
    payload = size_bytes - overhead
    for _ in range(8):  # the /Length digits grow with the payload: settle in a few rounds
        data = _pdf_with_attachment(payload)
        if len(data) == size_bytes:
            return data
        payload += size_bytes - len(data)
    raise AssertionError(f"could not hit {size_bytes} bytes exactly")


def raw_pdf(objects: list[bytes], *, root: int = 1) -> bytes:
    """A PDF assembled from object bodies (object n is ``objects[n - 1]``), with a correct xref.

    For structures pypdf's writer refuses to make: cycles, lies, absurd nesting.
    """
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\n" % (len(objects) + 1, root)
    out += b"startxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(out)


def pdf_with_page_tree_cycle() -> bytes:
    """A /Pages node that lists itself among its kids."""
    return raw_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R 2 0 R] /Count 2 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
        ]
    )


def pdf_with_deep_nesting(depth: int = 50_000) -> bytes:
    """A catalog entry of ``depth`` nested arrays: a recursive parser runs out of stack."""
    return raw_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R /Junk " + b"[" * depth + b"]" * depth + b" >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
        ]
    )


def pdf_with_page_count(pages: int, *, declared: int | None = None) -> bytes:
    """A flat page tree of ``pages`` blank pages whose /Count says ``declared`` (default: true)."""
    kids = b" ".join(b"%d 0 R" % (3 + n) for n in range(pages))
    count = pages if declared is None else declared
    return raw_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % count,
            *[b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>"] * pages,
        ]
    )


def pdf_with_javascript_in_object_stream() -> bytes:
    """An /OpenAction script kept in a compressed object stream, found through an xref stream
    (PDF 1.5+, as most producers write today): no byte of it shows in the file as written."""
    action = b"<< /S /JavaScript /JS (" + SCRIPT.encode() + b") >>"
    index = b"4 0 "
    packed = zlib.compress(index + action)
    bodies = [
        b"<< /Type /Catalog /Pages 2 0 R /OpenAction 4 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
        None,  # object 4 lives in object 5
        b"<< /Type /ObjStm /N 1 /First %d /Length %d /Filter /FlateDecode >>\nstream\n"
        % (len(index), len(packed))
        + packed
        + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    rows = [b"\x00" + bytes(4) + b"\xff\xff"]  # object 0: free
    for number, body in enumerate(bodies, start=1):
        if body is None:
            rows.append(b"\x02" + (5).to_bytes(4, "big") + (0).to_bytes(2, "big"))
            continue
        rows.append(b"\x01" + len(out).to_bytes(4, "big") + bytes(2))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref_at = len(out)
    rows.append(b"\x01" + xref_at.to_bytes(4, "big") + bytes(2))  # object 6: the xref stream
    table = b"".join(rows)
    out += (
        b"6 0 obj\n<< /Type /XRef /Size 7 /W [1 4 2] /Root 1 0 R /Length %d >>\nstream\n"
        % len(table)
        + table
        + b"\nendstream\nendobj\n"
    )
    out += b"startxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(out)


# --- helpers -------------------------------------------------------------------------------


def _one_page_writer() -> PdfWriter:
    writer = PdfWriter()
    writer.add_blank_page(612, 792)
    return writer


def _written(writer: PdfWriter) -> bytes:
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _action(kind: str, script: str) -> DictionaryObject:
    return DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Action"),
            NameObject("/S"): NameObject(kind),
            NameObject("/JS"): TextStringObject(script),
        }
    )


def _goto(writer: PdfWriter) -> DictionaryObject:
    first = writer.pages[0].indirect_reference
    return DictionaryObject(
        {
            NameObject("/S"): NameObject("/GoTo"),
            NameObject("/D"): ArrayObject([first, NameObject("/Fit")]),
        }
    )


def _link(action: DictionaryObject) -> DictionaryObject:
    return DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Annot"),
            NameObject("/Subtype"): NameObject("/Link"),
            NameObject("/Rect"): ArrayObject([NumberObject(n) for n in (72, 700, 200, 720)]),
            NameObject("/Border"): ArrayObject([NumberObject(0)] * 3),
            NameObject("/A"): action,
        }
    )


def _text_operators(text: str) -> bytes:
    lines = [text[i : i + 90] for i in range(0, len(text), 90)]
    shown = b" T* ".join(b"(" + line.encode("ascii") + b") Tj" for line in lines)
    return b"BT /F1 10 Tf 12 TL 72 740 Td " + shown + b" ET"


def _pdf_with_attachment(payload_size: int) -> bytes:
    writer = _one_page_writer()
    writer.add_attachment("padding.bin", random.Random(payload_size).randbytes(payload_size))
    return _written(writer)
