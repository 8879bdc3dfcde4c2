"""What every report page inlines: the stylesheet and the Vega JavaScript.

The JavaScript is the Vega, Vega-Lite and Vega-Embed bundle from
:func:`vl_convert.javascript_bundle`, built for the Vega-Lite version Altair writes, so a
page draws its charts with no network at all. It is about 0.9 MB and is inlined only
into pages that have charts.
"""

from __future__ import annotations

import functools
from typing import Final

from mlsteward.core import MissingDependency

__all__ = ["CSS", "RENDER_SCRIPT", "vega_bundle"]


_GLOBALS: Final = "window.vegaEmbed = vegaEmbed; window.vega = vega; window.vegaLite = vegaLite;"


@functools.cache
def vega_bundle() -> str:
    """The Vega + Vega-Lite + Vega-Embed JavaScript (cached per process)."""
    try:
        import altair as alt
        import vl_convert as vlc
    except ImportError as exc:  # pragma: no cover - both are dependencies
        raise MissingDependency(
            "Rendering report charts needs altair and vl-convert-python: "
            "pip install altair vl-convert-python"
        ) from exc
    major_minor = ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
    versions = vlc.get_vegalite_versions()
    bundle: str = (
        vlc.javascript_bundle(_GLOBALS, vl_version=major_minor)
        if major_minor in versions
        else vlc.javascript_bundle(_GLOBALS)
    )
    return bundle.replace("</script", "<\\/script")


RENDER_SCRIPT: Final = """
(function () {
  var nodes = document.querySelectorAll("[data-st-spec]");
  nodes.forEach(function (node) {
    var source = document.getElementById(node.getAttribute("data-st-spec"));
    var spec = JSON.parse(source.textContent);
    vegaEmbed(node, spec, {actions: false, renderer: "svg"})
      .then(function () { node.setAttribute("data-rendered", "true"); })
      .catch(function (error) {
        node.classList.add("st-chart-error");
        node.textContent = "This chart could not be drawn: " + error;
        console.error(error);
      });
  });
})();
"""

CSS: Final = """
:root { --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg: #ffffff; --soft: #f6f8fa;
  --pass: #1a7f37; --warn: #9a6700; --fail: #cf222e; --info: #0969da; --skip: #6e7781; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: var(--bg);
  font: 14px/1.5 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; }
header { padding: 24px 32px 16px; border-bottom: 1px solid var(--line); background: var(--soft); }
header h1 { margin: 0 0 4px; font-size: 22px; }
header .st-subtitle { margin: 0; color: var(--muted); }
header .st-badge { margin-left: 8px; vertical-align: middle; }
nav { padding: 8px 32px; border-bottom: 1px solid var(--line); font-size: 13px; }
nav a { margin-right: 16px; color: var(--info); text-decoration: none; }
main { padding: 8px 32px 32px; max-width: 1400px; }
section { margin-top: 24px; }
section h2 { font-size: 17px; margin: 0 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
p { margin: 6px 0; }
.st-muted { color: var(--muted); }
.st-kv { display: grid; grid-template-columns: max-content 1fr; gap: 4px 24px; margin: 8px 0; }
.st-kv dt { color: var(--muted); }
.st-kv dd { margin: 0; }
.st-table-wrap { overflow-x: auto; margin: 8px 0; }
.st-table { border-collapse: collapse; font-size: 13px; }
.st-table caption { text-align: left; color: var(--muted); padding: 4px 0; }
.st-table th, .st-table td { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: left;
  vertical-align: top; }
.st-table th { background: var(--soft); font-weight: 600; white-space: nowrap; }
.st-table td.st-num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.st-badge { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 12px;
  font-weight: 600; color: #fff; line-height: 20px; white-space: nowrap; }
.st-pass { background: var(--pass); } .st-warn { background: var(--warn); }
.st-fail { background: var(--fail); } .st-info { background: var(--info); }
.st-skipped { background: var(--skip); } .st-error { background: var(--fail); }
.st-grid { display: flex; flex-wrap: wrap; gap: 12px; }
.st-figure { margin: 8px 0; }
.st-chart { min-height: 40px; }
.st-chart-error { color: var(--fail); }
footer { padding: 16px 32px; color: var(--muted); font-size: 12px; border-top: 1px solid var(--line); }
"""
