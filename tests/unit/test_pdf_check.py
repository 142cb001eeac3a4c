"""Which uploads pass as documents: real PDFs; not other files, broken, locked or scripted PDFs."""

from __future__ import annotations

import io
import logging
import random
from collections.abc import Callable

import pytest

from domain.adapters.documents import pdf_check
from domain.adapters.documents.pdf_check import PdfFacts, check_pdf
from domain.errors import BadRequest, UnsupportedMediaType
from tests.support import pdfs

FIXED_MESSAGES = {
    pdf_check.NOT_A_PDF,
    pdf_check.UNREADABLE,
    pdf_check.ENCRYPTED,
    pdf_check.ACTIVE_CONTENT,
    pdf_check.TOO_MANY_PAGES,
    pdf_check.TOO_COMPLEX,
    pdf_check.NO_PAGES,
}


def refusal(data: bytes) -> BadRequest:
    with pytest.raises(BadRequest) as caught:
        check_pdf(data)
    refused = caught.value
    # the parser's own exception (its text can quote the file) is not chained on
    assert refused.__cause__ is None
    assert refused.__context__ is None or refused.__suppress_context__
    return refused


@pytest.mark.parametrize(
    ("build", "pages"),
    [
        (lambda: pdfs.valid_pdf(), 1),
        (lambda: pdfs.valid_pdf(pages=3, text_size=2_000), 3),
        (pdfs.pdf_with_harmless_links, 2),  # open at page 1, a web link, a bookmark, a page jump
        (pdfs.pdf_with_action_cycle, 1),  # a /Next chain that loops: walked once, no hang
        (lambda: pdfs.pdf_with_page_count(pdf_check.MAX_PAGES), pdf_check.MAX_PAGES),
    ],
)
def test_plain_pdfs_pass_with_their_page_count(build: Callable[[], bytes], pages: int) -> None:
    assert check_pdf(build()) == PdfFacts(page_count=pages)


def test_a_file_object_is_read_from_its_start() -> None:
    upload = io.BytesIO(pdfs.valid_pdf(pages=2))
    upload.seek(0, io.SEEK_END)  # as left by whoever wrote it
    assert check_pdf(upload).page_count == 2


def test_a_ten_megabyte_pdf_is_built_to_the_byte_and_passes() -> None:
    data = pdfs.large_pdf(10 * 1024 * 1024)
    assert len(data) == 10 * 1024 * 1024
    assert check_pdf(data).page_count == 1
    assert len(pdfs.large_pdf(10 * 1024 * 1024 + 1)) == 10 * 1024 * 1024 + 1


@pytest.mark.parametrize(
    "data",
    [pdfs.not_a_pdf(), pdfs.png_image(), b"", b"%PD"],
    ids=["text renamed .pdf", "png", "empty", "short"],
)
def test_what_is_not_a_pdf_is_an_unsupported_media_type(data: bytes) -> None:
    with pytest.raises(UnsupportedMediaType) as caught:
        check_pdf(data)
    assert caught.value.message == "only PDF documents are accepted"


@pytest.mark.parametrize(
    "build",
    [
        pdfs.truncated_pdf,
        pdfs.garbage_pdf,
        pdfs.pdf_with_page_tree_cycle,
        pdfs.pdf_with_deep_nesting,
        lambda: pdfs.raw_pdf([b"<< /Type /Catalog >>"]),  # no page tree at all
        lambda: pdfs.raw_pdf([b"(a string where the catalog should be)"]),
    ],
    ids=["truncated", "noise", "page tree cycle", "deep nesting", "no pages", "no catalog"],
)
def test_a_pdf_that_does_not_parse_is_a_bad_request(build: Callable[[], bytes]) -> None:
    assert refusal(build()).message == "the PDF could not be read"


@pytest.mark.parametrize(
    "data",
    [pdfs.encrypted_pdf("secret"), pdfs.encrypted_pdf(""), pdfs.encrypted_pdf("", "owner")],
    ids=["user password", "no user password", "owner password only"],
)
def test_an_encrypted_pdf_is_refused_even_when_it_opens_without_a_password(data: bytes) -> None:
    assert refusal(data).message == (
        "encrypted PDFs are not accepted: remove the password and upload again"
    )


@pytest.mark.parametrize(
    "build",
    [
        pdfs.pdf_with_javascript,
        pdfs.pdf_with_open_action_javascript,
        pdfs.pdf_with_open_action_uri,
        pdfs.pdf_with_chained_javascript,
        pdfs.pdf_with_page_open_javascript,
        pdfs.pdf_with_link_javascript,
        pdfs.pdf_with_launch_link,
        pdfs.pdf_with_bookmark_javascript,
        pdfs.pdf_with_form_field_javascript,
        pdfs.pdf_with_javascript_in_object_stream,
        pdfs.pdf_with_xfa_form,
        lambda: pdfs.pdf_with_xfa_form(needs_rendering=True),
        pdfs.pdf_with_needs_rendering_only,
    ],
)
def test_active_content_is_refused_wherever_it_hides(build: Callable[[], bytes]) -> None:
    message = refusal(build()).message
    assert message == pdf_check.ACTIVE_CONTENT
    assert "active content (JavaScript" in message


def test_a_script_in_a_name_with_hex_escapes_is_still_found() -> None:
    data = pdfs.raw_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R /OpenAction << /S /Java#53cript /J#53 (x) >> >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
        ]
    )
    assert refusal(data).message == pdf_check.ACTIVE_CONTENT


@pytest.mark.parametrize(
    "data",
    [
        pdfs.pdf_with_page_count(pdf_check.MAX_PAGES + 1),
        pdfs.pdf_with_page_count(1, declared=10**9),  # a /Count that claims too many is believed
        pdfs.pdf_with_page_count(pdf_check.MAX_PAGES + 1, declared=1),  # one that hides them isn't
    ],
    ids=["honest", "count says more", "count says fewer"],
)
def test_too_many_pages_is_a_bad_request(data: bytes) -> None:
    assert refusal(data).message == "the PDF has more than 2,000 pages, which is not accepted"


def test_a_pdf_without_pages_is_a_bad_request() -> None:
    empty = pdfs.raw_pdf(
        [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"]
    )
    assert refusal(empty).message == "the PDF has no pages"


def test_a_document_with_more_to_look_through_than_the_budget_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    links = b" ".join(
        b"<< /Subtype /Link /Rect [0 0 9 9] /A << /S /URI /URI (x) >> >>" for _ in range(40)
    )
    data = pdfs.raw_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Annots [" + links + b"] >>",
        ]
    )
    assert check_pdf(data).page_count == 1
    monkeypatch.setattr(pdf_check, "MAX_OBJECTS_VISITED", 30)
    assert refusal(data).message == "the PDF is too complex to be checked"


def test_nothing_from_the_document_reaches_the_message_or_the_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    marker = b"Marker Person 1961-02-03"
    broken = pdfs.raw_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R (" + marker + b")] /Count 2 >>",  # pypdf warns on it
            b"<< /Type /Page /Parent 2 0 R (" + marker + b") (" + marker + b") >>",
        ]
    )
    scripted = pdfs.raw_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R /OpenAction << /S /JavaScript /JS ("
            + marker
            + b") >> >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
        ]
    )
    caplog.set_level(logging.DEBUG)
    messages = [check_pdf(broken)]  # tolerated: still one readable page
    for data in (scripted, broken[: len(broken) // 2]):
        messages.append(refusal(data).message)
    assert marker.decode() not in caplog.text
    assert not any(marker.decode() in str(message) for message in messages)


def test_no_mangled_file_gets_past_as_anything_but_a_verdict() -> None:
    """Random damage to good and bad PDFs: each ends in facts or a fixed 4xx message, never a
    crash (which the API would turn into a 500)."""
    rng = random.Random(20240601)
    bases = [
        pdfs.valid_pdf(pages=3, text_size=300),
        pdfs.pdf_with_javascript(),
        pdfs.pdf_with_harmless_links(),
        pdfs.encrypted_pdf(""),
        pdfs.pdf_with_form_field_javascript(),
    ]
    verdicts: set[str] = set()
    for _ in range(600):
        data = bytearray(rng.choice(bases))
        for _ in range(rng.randint(1, 8)):
            at = rng.randrange(len(data))
            roll = rng.random()
            if roll < 0.5:
                data[at] = rng.randrange(256)
            elif roll < 0.75:
                del data[at : at + rng.randint(1, 50)]
            else:
                data[at:at] = rng.randbytes(rng.randint(1, 20))
        try:
            facts = check_pdf(bytes(data))
        except (BadRequest, UnsupportedMediaType) as refused:
            assert refused.message in FIXED_MESSAGES
            verdicts.add(refused.message)
        else:
            assert 1 <= facts.page_count <= 3
            verdicts.add("accepted")
    assert {"accepted", pdf_check.UNREADABLE, pdf_check.ACTIVE_CONTENT} <= verdicts
