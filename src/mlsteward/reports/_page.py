"""A report: a title, sections of blocks, rendered as one self-contained HTML page or JSON.

>>> from mlsteward.reports import Report, Text, Badge, Table
>>> r = Report("Dataset acs@3f2a", "ACS employment, 2015").add_section(
...     "Checks", Table(["check", "status"], [["missing values", Badge("pass")]]))
>>> page = r.to_html()
>>> page.startswith("<!DOCTYPE html>") and "st-badge st-pass" in page
True
>>> r.to_dict()["sections"][0]["blocks"][0]["rows"][0][1]["status"]
'pass'

The page needs no network: the stylesheet and, when there are charts, the Vega JavaScript
are inlined, and nothing is loaded from a URL.
"""

from __future__ import annotations

import html
import json
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Literal

from mlsteward._version import __version__
from mlsteward.core import InvalidInput, utcnow
from mlsteward.reports._assets import CSS, RENDER_SCRIPT, vega_bundle
from mlsteward.reports._blocks import Badge, Block, RenderContext, Text, plain_value, script_json

__all__ = ["REPORT_FORMAT", "Report", "Section", "write_text"]

REPORT_FORMAT: Final = "mlsteward.report"
ReportFormat = Literal["html", "json"]


def _slug(text: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    taken.add(slug)
    return slug


@dataclass(frozen=True)
class Section:
    """A titled part of a report with its blocks in order."""

    title: str
    blocks: tuple[Block, ...]
    description: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "description": self.description,
            "blocks": [b.to_dict() for b in self.blocks],
        }


@dataclass
class Report:
    """A report page: build it with :meth:`add_section`, then :meth:`to_html`,
    :meth:`to_json` or :meth:`write`.

    ``status`` (a :class:`Badge` status such as ``pass`` or ``fail``) shows next to the
    title; ``meta`` is extra JSON-compatible data carried in :meth:`to_dict`.
    """

    title: str
    subtitle: str | None = None
    status: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)
    generated_at: datetime = field(default_factory=utcnow)
    sections: list[Section] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.status is not None:
            Badge(self.status)  # validates the status early, with a clear message

    def add_section(
        self, title: str, *blocks: Block | str, description: str | None = None
    ) -> Report:
        """Append a section; plain strings become :class:`Text`. Returns the report."""
        converted: list[Block] = []
        for block in blocks:
            if isinstance(block, str):
                converted.append(Text(block))
            elif isinstance(block, Block):
                converted.append(block)
            else:
                raise InvalidInput(
                    f"Section {title!r} got a {type(block).__name__}; expected a block (Text, "
                    "Table, Chart, KeyValues, Badge, Grid) or a string."
                )
        self.sections.append(Section(title, tuple(converted), description))
        return self

    # -- output ----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": REPORT_FORMAT,
            "version": 1,
            "title": self.title,
            "subtitle": self.subtitle,
            "status": None if self.status is None else Badge(self.status).status,
            "generated_at": self.generated_at.isoformat(),
            "generator": f"mlsteward {__version__}",
            "meta": plain_value(dict(self.meta)),
            "sections": [s.to_dict() for s in self.sections],
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def to_html(self) -> str:
        """The whole page as one string (no external resources)."""
        context = RenderContext()
        taken: set[str] = set()
        nav, body = [], []
        for section in self.sections:
            slug = _slug(section.title, taken)
            nav.append(f'<a href="#{slug}">{html.escape(section.title)}</a>')
            description = (
                f'<p class="st-muted">{html.escape(section.description)}</p>'
                if section.description
                else ""
            )
            inner = "".join(block.to_html(context) for block in section.blocks)
            body.append(
                f'<section id="{slug}"><h2>{html.escape(section.title)}</h2>'
                f"{description}{inner}</section>"
            )
        badge = Badge(self.status).to_html(context) if self.status else ""
        subtitle = (
            f'<p class="st-subtitle">{html.escape(self.subtitle)}</p>' if self.subtitle else ""
        )
        scripts = ""
        if context.specs:
            specs = "".join(
                f'<script type="application/json" id="st-spec-{i}">{script_json(spec)}</script>'
                for i, spec in enumerate(context.specs)
            )
            scripts = f"{specs}<script>{vega_bundle()}</script><script>{RENDER_SCRIPT}</script>"
        generated = self.generated_at.isoformat(timespec="seconds")
        return (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<meta name="generator" content="mlsteward {html.escape(__version__)}">'
            f"<title>{html.escape(self.title)}</title><style>{CSS}</style></head><body>"
            f"<header><h1>{html.escape(self.title)}{badge}</h1>{subtitle}</header>"
            f"<nav>{''.join(nav)}</nav><main>{''.join(body)}</main>"
            f"<footer>Generated by Steward {html.escape(__version__)} at "
            f"{html.escape(generated)}.</footer>{scripts}</body></html>\n"
        )

    def render(self, format: ReportFormat = "html") -> str:
        """The report as ``html`` or ``json`` text."""
        if format == "html":
            return self.to_html()
        if format == "json":
            return self.to_json()
        raise InvalidInput(f"Report format {format!r} is not known; expected 'html' or 'json'.")

    def write(self, path: str | os.PathLike[str], *, format: ReportFormat = "html") -> Path:
        """Write the report atomically (temporary file, then rename); returns the path."""
        return write_text(path, self.render(format))


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` atomically (UTF-8); the directory must exist."""
    target = Path(path)
    if not target.parent.exists():
        raise InvalidInput(
            f"Cannot write {target}: the directory {target.parent} does not exist; create it "
            "first or choose another path."
        )
    handle, temporary = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target
