"""E-mail templates rendered with Jinja2.

Each template ``name`` is three files under ``templates/email``:
``name.subject.txt``, ``name.txt`` and ``name.html``; files starting with ``_``
are layouts and macros. They are all compiled once, at construction, so a
broken or missing file stops the process at start-up instead of failing jobs,
and rendering reads no files. HTML is autoescaped because template data comes
from clients; the subject and text parts are not, as they are not HTML.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

from domain.errors import ValidationFailed
from domain.notifications.ports import RenderedEmail

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates" / "email"
PARTS = ("subject.txt", "txt", "html")


class JinjaEmailRenderer:
    def __init__(self, directory: Path = TEMPLATE_DIR, *, product: str = "Healthplat") -> None:
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(directory),
            autoescape=jinja2.select_autoescape(
                enabled_extensions=("html",), default_for_string=False, default=False
            ),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,
        )
        self._env.globals["product"] = product
        self._templates = self._compile_all()

    def _compile_all(self) -> dict[str, tuple[jinja2.Template, ...]]:
        files = set(self._env.list_templates())
        names = sorted(
            file.removesuffix(".subject.txt")
            for file in files
            if file.endswith(".subject.txt") and not file.startswith("_")
        )
        compiled: dict[str, tuple[jinja2.Template, ...]] = {}
        for name in names:
            missing = [part for part in PARTS if f"{name}.{part}" not in files]
            if missing:
                raise RuntimeError(f"e-mail template {name} lacks its {', '.join(missing)} part")
            compiled[name] = tuple(self._env.get_template(f"{name}.{part}") for part in PARTS)
        return compiled

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self._templates)

    def render(self, template: str, data: dict[str, Any]) -> RenderedEmail:
        parts = self._templates.get(template)
        if parts is None:
            raise ValidationFailed("unknown template", field="template")
        subject, text, html = parts
        try:
            rendered_subject = subject.render(data)
            rendered_text = text.render(data)
            rendered_html = html.render(data)
        # ``from None``: a cause's text may quote the data, and tracebacks get logged.
        except jinja2.UndefinedError:
            raise ValidationFailed("data lacks a field the template needs", field="data") from None
        except (jinja2.TemplateError, TypeError, ValueError):
            raise ValidationFailed("the template could not be rendered", field="data") from None
        # A header is one line: whatever the data holds, the subject cannot inject headers.
        return RenderedEmail(
            subject=" ".join(rendered_subject.split()),
            text=rendered_text.strip("\n") + "\n",
            html=rendered_html.strip("\n") + "\n",
        )
