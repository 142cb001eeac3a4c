"""Is an upload a PDF we are willing to keep? Checked before a byte is encrypted or stored.

Documents are opened later by patients and doctors in their own viewers, so we
refuse what a viewer would run on its own or cannot be scanned for it: files
that are not PDFs at all (415), PDFs that do not parse, PDFs under a password
(we could not look inside, and neither could the people it is shared with),
and PDFs with active content: JavaScript anywhere a viewer looks for it, launch
actions, and actions that fire on their own (when the document or a page
opens, a field gets focus ...) other than going to a page. Plain hyperlinks and
"open at page 1" stay allowed; real documents are full of them.

The parser meets hostile input here, so the work is bounded (page count, pypdf's
own limits lowered, a budget of objects visited, cycles skipped) and any failure
of the parser, whatever its type, is the uploader's problem (400), never ours
(500). Messages are fixed texts: nothing from the document is echoed, and pypdf's
exception text (which can quote the document) is dropped from the chain.

This is CPU work on an untrusted file of up to 10 MB; callers on the event
loop should run it in a worker thread.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable, Iterator
from typing import BinaryIO

import filetype
import msgspec
import pypdf
import structlog
from pypdf.errors import FileNotDecryptedError, LimitReachedError
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

from domain.errors import BadRequest, DomainError, UnsupportedMediaType

MAX_PAGES = 2_000
MAX_OBJECTS_VISITED = 200_000  # actions, annotations, outline items and fields looked at
SNIFF_BYTES = 261  # what filetype needs to tell any of its types apart

NOT_A_PDF = "only PDF documents are accepted"
UNREADABLE = "the PDF could not be read"
ENCRYPTED = "encrypted PDFs are not accepted: remove the password and upload again"
ACTIVE_CONTENT = (
    "the PDF contains active content (JavaScript or actions that run on their own), "
    "which is not accepted"
)
TOO_MANY_PAGES = f"the PDF has more than {MAX_PAGES:,} pages, which is not accepted"
TOO_COMPLEX = "the PDF is too complex to be checked"
NO_PAGES = "the PDF has no pages"

# Tighter than pypdf's defaults (75 MB per stream, 100,000 entries): a 10 MB
# upload has no business expanding further, and the check only needs structure.
_PYPDF_LIMITS = {
    "zlib_maximum_output_length": 32_000_000,
    "lzw_maximum_output_length": 32_000_000,
    "run_length_maximum_output_length": 32_000_000,
    "brotli_maximum_output_length": 32_000_000,
    "maximum_declared_stream_length": 32_000_000,
    "page_tree_maximum_entries": 4 * MAX_PAGES,
    "outline_maximum_entries": 20_000,
    "form_fields_maximum_entries": 20_000,
    "jbig2dec_binary": None,  # never start a process for an upload
    "disable_legacy_handling": True,
}

# Action types that run code or another program, wherever they sit (even behind a click).
_ALWAYS_ACTIVE = {"/JavaScript", "/Launch", "/RichMediaExecute"}
# The only action allowed to fire on its own (open action, additional actions): a page jump.
_HARMLESS_AUTOMATIC = {"/GoTo"}

log = structlog.get_logger(__name__)
# pypdf's warnings quote the objects they complain about (a name, a date of birth: PHI) and it
# runs here on nothing but uploads: it stays silent, and _rejected says why, by kind only.
logging.getLogger("pypdf").setLevel(logging.CRITICAL + 1)


class PdfFacts(msgspec.Struct, frozen=True):
    page_count: int


def check_pdf(data: bytes | BinaryIO) -> PdfFacts:
    """The facts of an acceptable PDF; raises UnsupportedMediaType or BadRequest otherwise.

    A file object is read from its start and left wherever the parser left it.
    """
    stream: BinaryIO = io.BytesIO(data) if isinstance(data, bytes | bytearray) else data
    stream.seek(0)
    if filetype.guess_mime(stream.read(SNIFF_BYTES)) != "application/pdf":
        raise UnsupportedMediaType(NOT_A_PDF)
    stream.seek(0)
    try:
        with pypdf.apply_configuration(**_PYPDF_LIMITS):
            return _inspect(pypdf.PdfReader(stream, strict=False))
    except DomainError:
        raise
    except (LimitReachedError, _BudgetSpent) as exc:
        _rejected("too_complex", exc)
        raise BadRequest(TOO_COMPLEX) from None
    except FileNotDecryptedError as exc:  # an /Encrypt entry pypdf met before we asked
        _rejected("encrypted", exc)
        raise BadRequest(ENCRYPTED) from None
    except Exception as exc:  # whatever a hostile file makes the parser do (RecursionError too)
        _rejected("unreadable", exc)
        raise BadRequest(UNREADABLE) from None


def _inspect(reader: pypdf.PdfReader) -> PdfFacts:
    if reader.is_encrypted:
        raise BadRequest(ENCRYPTED)
    root = _resolve(reader.trailer["/Root"])
    if not isinstance(root, DictionaryObject):
        raise BadRequest(UNREADABLE)
    declared = _resolve(_resolve(root.get("/Pages")).get("/Count"))
    if isinstance(declared, int) and declared > MAX_PAGES:  # before walking a huge page tree
        raise BadRequest(TOO_MANY_PAGES)
    page_count = len(reader.pages)
    if page_count > MAX_PAGES:
        raise BadRequest(TOO_MANY_PAGES)
    if page_count == 0:
        raise BadRequest(NO_PAGES)
    if _has_active_content(root, reader.pages):
        raise BadRequest(ACTIVE_CONTENT)
    return PdfFacts(page_count=page_count)


def _has_active_content(root: DictionaryObject, pages: Iterable[DictionaryObject]) -> bool:
    walk = _Walk()
    names = walk.dictionary(root.get("/Names"))
    if names is not None and "/JavaScript" in names:
        return True
    open_action = walk.visit(root.get("/OpenAction"))
    if isinstance(open_action, DictionaryObject) and walk.runs_code(open_action, automatic=True):
        return True  # an array here is a destination ("open at page 1"), not an action
    if walk.triggers_code(root.get("/AA")):
        return True
    for page in pages:
        if walk.triggers_code(page.get("/AA")):
            return True
        annotations = walk.visit(page.get("/Annots"))
        for annotation in walk.items(annotations):
            if _widget_runs_code(walk, walk.dictionary(annotation)):
                return True
    if _is_xfa(root):
        return True
    return any(walk.runs_code(item.get("/A")) for item in walk.outline(root)) or any(
        _widget_runs_code(walk, field) for field in walk.form_fields(root)
    )


def _is_xfa(root: DictionaryObject) -> bool:
    """An XFA form: its XML template may hold scripts a viewer runs when the file opens.
    We refuse XFA outright rather than parse its XML (PDF 2.0 deprecates it; AcroForm
    fields, which we do check, are what ordinary forms use)."""
    if root.get("/NeedsRendering") is not None:
        return True
    form = _resolve(root.get("/AcroForm"))  # not through the walk: form_fields visits it next
    return isinstance(form, DictionaryObject) and form.get("/XFA") is not None


def _widget_runs_code(walk: _Walk, node: DictionaryObject | None) -> bool:
    """Annotations and form fields: clicked (/A) and triggered (/AA) actions."""
    if node is None:
        return False
    return walk.runs_code(node.get("/A")) or walk.triggers_code(node.get("/AA"))


class _BudgetSpent(Exception):
    """Raised when a document holds more actions, annotations or fields than we look through."""


class _Walk:
    """A bounded walk over a PDF's object graph: each indirect object at most once per kind."""

    def __init__(self) -> None:
        self._left = MAX_OBJECTS_VISITED
        self._seen: set[tuple[str, int, int]] = set()

    def visit(self, obj: object, kind: str = "node") -> object:
        """The object behind a reference; None when already seen as ``kind`` (a cycle)."""
        self._left -= 1
        if self._left < 0:
            raise _BudgetSpent
        if isinstance(obj, IndirectObject):
            key = (kind, obj.idnum, obj.generation)
            if key in self._seen:
                return None
            self._seen.add(key)
            return obj.get_object()
        return obj

    def dictionary(self, obj: object, kind: str = "node") -> DictionaryObject | None:
        found = self.visit(obj, kind)
        return found if isinstance(found, DictionaryObject) else None

    def items(self, obj: object) -> Iterator[object]:
        if isinstance(obj, ArrayObject):
            yield from obj  # raw references (pypdf resolves only on indexing): visit() sees cycles

    def runs_code(self, action: object, *, automatic: bool = False) -> bool:
        """Whether an action, or any action chained after it (/Next), runs code.

        ``automatic``: the action fires without a click, so anything but a page jump counts.
        """
        pending = [action]
        while pending:
            node = self.visit(pending.pop(), f"action:{automatic}")
            if isinstance(node, ArrayObject):
                pending.extend(self.items(node))
                continue
            if not isinstance(node, DictionaryObject):
                continue
            kind = _resolve(node.get("/S"))
            kind = kind if isinstance(kind, str) else None  # a name; anything else is no type
            if "/JS" in node or kind in _ALWAYS_ACTIVE:
                return True
            if automatic and kind not in _HARMLESS_AUTOMATIC:
                return True
            if node.get("/Next") is not None:
                pending.append(node.get("/Next"))
        return False

    def triggers_code(self, additional_actions: object) -> bool:
        """An /AA dictionary: every entry fires on an event (page opens, field changes ...)."""
        triggers = self.dictionary(additional_actions, "triggers")
        if triggers is None:
            return False
        return any(
            self.runs_code(triggers.get(event), automatic=True) for event in list(triggers.keys())
        )

    def outline(self, root: DictionaryObject) -> Iterator[DictionaryObject]:
        """Every bookmark (outline item), depth first, without recursion."""
        outlines = self.dictionary(root.get("/Outlines"), "outline")
        pending = [outlines.get("/First")] if outlines is not None else []
        while pending:
            item = self.dictionary(pending.pop(), "outline")
            if item is None:
                continue
            yield item
            pending.extend(ref for ref in (item.get("/Next"), item.get("/First")) if ref)

    def form_fields(self, root: DictionaryObject) -> Iterator[DictionaryObject]:
        """Every form field (fields can carry scripts: keystroke, format, calculate)."""
        form = self.dictionary(root.get("/AcroForm"))
        pending = list(self.items(self.visit(form.get("/Fields")))) if form is not None else []
        while pending:
            field = self.dictionary(pending.pop(), "field")
            if field is None:
                continue
            yield field
            pending.extend(self.items(self.visit(field.get("/Kids"))))


def _resolve(obj: object) -> object:
    return obj.get_object() if isinstance(obj, IndirectObject) else obj


def _rejected(reason: str, exc: BaseException) -> None:
    """Ops may see why uploads fail, by kind only: the exception's text can quote the file."""
    log.info("pdf_rejected", reason=reason, error_type=type(exc).__name__)
