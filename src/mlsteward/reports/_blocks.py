"""The blocks a report section is made of: text, tables, key-value lists, badges, charts.

Every block renders itself twice: as an HTML fragment (all text escaped) and as a JSON
value, so one report gives both the page for people and the document for machines. A
block is a small frozen dataclass; a new kind of block implements :class:`Block`.
"""

from __future__ import annotations

import abc
import html
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, ClassVar, Final

from mlsteward.core import InvalidInput

__all__ = [
    "STATUSES",
    "Badge",
    "Block",
    "Chart",
    "Grid",
    "KeyValues",
    "RenderContext",
    "Table",
    "Text",
    "format_value",
    "plain_value",
    "script_json",
]

STATUSES: Final = ("pass", "warn", "fail", "info", "skipped", "error")
"""Statuses a :class:`Badge` can show (``ok``/``passed`` and friends are accepted too)."""

_ALIASES: Final = {
    "ok": "pass",
    "passed": "pass",
    "success": "pass",
    "warning": "warn",
    "failed": "fail",
    "failure": "fail",
    "skip": "skipped",
    "none": "info",
}


def _fmt_float(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    if value.is_integer() and abs(value) < 1e15:
        return format_value(int(value))
    magnitude = abs(value)
    if magnitude >= 1e6 or magnitude < 1e-3:
        return f"{value:.3e}"
    return f"{value:,.4g}" if magnitude >= 1 else f"{value:.4g}"


def format_value(value: Any) -> str:
    """A cell value as short display text (numbers rounded, thousands separated from
    10,000 on, ``None`` as an em dash)."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)  # years stay 2015
    if isinstance(value, float):
        return _fmt_float(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(format_value(v) for v in value) or "—"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={format_value(v)}" for k, v in value.items()) or "—"
    return str(value)


def plain_value(value: Any) -> Any:
    """A value as JSON-compatible data (datetimes as ISO 8601, non-finite floats as text)."""
    if isinstance(value, Block):
        return value.to_dict()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Mapping):
        return {str(k): plain_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain_value(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        return plain_value(item())
    return str(value)


@dataclass
class RenderContext:
    """What blocks share while one page renders: chart specs collected for the scripts."""

    specs: list[dict[str, Any]] = field(default_factory=list)

    def add_spec(self, spec: dict[str, Any]) -> str:
        self.specs.append(spec)
        return f"st-spec-{len(self.specs) - 1}"


class Block(abc.ABC):
    """A piece of a report section.

    Contract: :meth:`to_html` returns a fragment in which every user-supplied string is
    escaped and that loads nothing from the network; :meth:`to_dict` returns
    JSON-compatible data with a ``"type"`` key.
    """

    type: ClassVar[str]

    @abc.abstractmethod
    def to_html(self, context: RenderContext) -> str: ...

    @abc.abstractmethod
    def to_dict(self) -> dict[str, Any]: ...


def _cell_html(value: Any, context: RenderContext) -> str:
    if isinstance(value, Block):
        return value.to_html(context)
    return html.escape(format_value(value))


@dataclass(frozen=True)
class Text(Block):
    """Paragraphs of plain text (blank lines separate paragraphs; no markup)."""

    text: str
    muted: bool = False
    type: ClassVar[str] = "text"

    def to_html(self, context: RenderContext) -> str:
        css = ' class="st-muted"' if self.muted else ""
        paragraphs = [p.strip() for p in self.text.split("\n\n") if p.strip()]
        return "".join(f"<p{css}>{html.escape(p)}</p>" for p in paragraphs)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "text": self.text}


@dataclass(frozen=True)
class Badge(Block):
    """A status badge: ``pass``, ``warn``, ``fail``, ``info``, ``skipped`` or ``error``."""

    status: str
    label: str | None = None
    type: ClassVar[str] = "badge"

    def __post_init__(self) -> None:
        status = _ALIASES.get(self.status.lower(), self.status.lower())
        if status not in STATUSES:
            raise InvalidInput(
                f"Badge status {self.status!r} is not known; expected one of {', '.join(STATUSES)}."
            )
        object.__setattr__(self, "status", status)

    def to_html(self, context: RenderContext) -> str:
        text = html.escape(self.label if self.label is not None else self.status.upper())
        return f'<span class="st-badge st-{self.status}">{text}</span>'

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "status": self.status, "label": self.label}


@dataclass(frozen=True)
class KeyValues(Block):
    """A definition list of labelled values (values may be badges)."""

    items: Mapping[str, Any] | Sequence[tuple[str, Any]]
    type: ClassVar[str] = "key_values"

    def _pairs(self) -> list[tuple[str, Any]]:
        if isinstance(self.items, Mapping):
            return list(self.items.items())
        return list(self.items)

    def to_html(self, context: RenderContext) -> str:
        rows = "".join(
            f"<dt>{html.escape(str(k))}</dt><dd>{_cell_html(v, context)}</dd>"
            for k, v in self._pairs()
        )
        return f'<dl class="st-kv">{rows}</dl>'

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "items": {str(k): plain_value(v) for k, v in self._pairs()}}


@dataclass(frozen=True)
class Table(Block):
    """A table with a header row; cells may be badges. Numbers align right."""

    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]
    caption: str | None = None
    id: str | None = None
    type: ClassVar[str] = "table"

    def __post_init__(self) -> None:
        width = len(self.columns)
        for i, row in enumerate(self.rows):
            if len(row) != width:
                raise InvalidInput(
                    f"Table row {i} has {len(row)} cells but the table has {width} columns "
                    f"({', '.join(map(str, self.columns))}); give every row one cell per column."
                )

    def to_html(self, context: RenderContext) -> str:
        ident = f' id="{html.escape(self.id)}"' if self.id else ""
        caption = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in self.columns)
        body = []
        for row in self.rows:
            cells = []
            for value in row:
                numeric = isinstance(value, int | float) and not isinstance(value, bool)
                css = ' class="st-num"' if numeric else ""
                cells.append(f"<td{css}>{_cell_html(value, context)}</td>")
            body.append(f"<tr>{''.join(cells)}</tr>")
        return (
            f'<div class="st-table-wrap"><table class="st-table"{ident}>{caption}'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "caption": self.caption,
            "columns": list(self.columns),
            "rows": [[plain_value(v) for v in row] for row in self.rows],
        }


@dataclass(frozen=True)
class Chart(Block):
    """A Vega-Lite chart: an Altair chart or a Vega-Lite spec (dict), drawn in the page.

    The spec is embedded as JSON and drawn by the Vega JavaScript inlined once per page.
    """

    chart: Any
    caption: str | None = None
    type: ClassVar[str] = "chart"

    def spec(self) -> dict[str, Any]:
        if isinstance(self.chart, Mapping):
            return dict(self.chart)
        to_dict = getattr(self.chart, "to_dict", None)
        if not callable(to_dict):
            raise InvalidInput(
                f"Chart expects an Altair chart or a Vega-Lite spec dict, got "
                f"{type(self.chart).__name__}."
            )
        spec: dict[str, Any] = to_dict()
        return spec

    def to_html(self, context: RenderContext) -> str:
        spec_id = context.add_spec(self.spec())
        caption = (
            f'<figcaption class="st-muted">{html.escape(self.caption)}</figcaption>'
            if self.caption
            else ""
        )
        return (
            f'<figure class="st-figure"><div class="st-chart" data-st-spec="{spec_id}">'
            f"</div>{caption}</figure>"
        )

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "caption": self.caption, "spec": self.spec()}


@dataclass(frozen=True)
class Grid(Block):
    """Blocks side by side (wrapping), e.g. small-multiple charts."""

    blocks: Sequence[Block]
    type: ClassVar[str] = "grid"

    def to_html(self, context: RenderContext) -> str:
        inner = "".join(f'<div class="st-cell">{b.to_html(context)}</div>' for b in self.blocks)
        return f'<div class="st-grid">{inner}</div>'

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "blocks": [b.to_dict() for b in self.blocks]}


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def script_json(value: Any) -> str:
    """JSON safe inside a ``<script>`` element: ``<`` escaped, NaN and inf as null."""
    return json.dumps(_finite(value), allow_nan=False, default=str).replace("<", "\\u003c")
