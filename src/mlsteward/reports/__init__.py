"""Reports: self-contained HTML pages and JSON documents, shared by every stage.

A :class:`Report` has a title and sections of blocks (:class:`Text`, :class:`Table`,
:class:`KeyValues`, :class:`Badge`, :class:`Chart`, :class:`Grid`). ``to_html()`` gives
one page that opens with no network (CSS and the Vega JavaScript inlined); ``to_json()``
the same content for machines. The chart helpers build Altair charts with inline data.
"""

from mlsteward.reports._blocks import (
    STATUSES,
    Badge,
    Block,
    Chart,
    Grid,
    KeyValues,
    RenderContext,
    Table,
    Text,
    format_value,
    plain_value,
)
from mlsteward.reports._charts import (
    bar_chart,
    category_chart,
    histogram_chart,
    line_chart,
    missing_chart,
)
from mlsteward.reports._page import REPORT_FORMAT, Report, Section, write_text

__all__ = [
    "REPORT_FORMAT",
    "STATUSES",
    "Badge",
    "Block",
    "Chart",
    "Grid",
    "KeyValues",
    "RenderContext",
    "Report",
    "Section",
    "Table",
    "Text",
    "bar_chart",
    "category_chart",
    "format_value",
    "histogram_chart",
    "line_chart",
    "missing_chart",
    "plain_value",
    "write_text",
]
