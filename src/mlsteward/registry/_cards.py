"""Texts written into bundles: the model card stub and the Dockerfile.

>>> python_image("3.11.9")
'python:3.11-slim'
>>> python_image("")
'python:3.11-slim'
"""

from __future__ import annotations

from typing import Final

from mlsteward.registry._pipeline import pipeline_summary
from mlsteward.registry._records import ModelVersion

__all__ = ["dockerfile", "model_card", "python_image"]

DEFAULT_PYTHON: Final = "3.11"
PORT: Final = 8080


def python_image(python: str) -> str:
    """The official slim image of the Python minor version used in training."""
    parts = python.split(".")
    minor = ".".join(parts[:2]) if len(parts) >= 2 and all(p.isdigit() for p in parts[:2]) else ""
    return f"python:{minor or DEFAULT_PYTHON}-slim"


def dockerfile(version: ModelVersion, python: str) -> str:
    """An image that installs the pinned requirements, verifies the bundle and serves it."""
    tag = f"{version.name}:{version.version}"
    return f"""# Serves model {version.ref} (project {version.project}) with `steward serve`.
# Build:  docker build -t {tag} .
# Run:    docker run --rm -p {PORT}:{PORT} {tag}
# The build fails if any file of the bundle differs from its manifest.
FROM {python_image(python)}
ENV PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /bundle
COPY requirements.txt ./
RUN pip install -r requirements.txt
COPY . ./
RUN steward package verify /bundle
RUN useradd --create-home --uid 10001 steward
USER steward
EXPOSE {PORT}
HEALTHCHECK --interval=30s --timeout=3s \\
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:{PORT}/healthz')"
CMD ["steward", "serve", "--bundle", "/bundle", "--host", "0.0.0.0", "--port", "{PORT}"]
"""


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def model_card(version: ModelVersion) -> str:
    """A Markdown model card with what the registry knows; TODO marks what people add."""
    lines = [
        f"# Model card: {version.ref}",
        "",
        f"Project `{version.project}`. Registered {version.created_at:%Y-%m-%d %H:%M} UTC by "
        f"{version.created_by}. State: **{version.state}**"
        + (f" ({version.state_reason})" if version.state_reason else "")
        + (f". Aliases: {', '.join(version.aliases)}" if version.aliases else "")
        + ".",
        "",
        "## Model details",
        "",
        f"- Class: `{version.model_class}`",
        f"- Format: `{version.format}` (artifact `{version.artifact_digest}`)",
        f"- Feature pipeline: {pipeline_summary(version.pipeline)}",
        f"- Task: {version.signature.task or 'TODO'}",
    ]
    if version.classes is not None:
        lines.append(f"- Classes: {', '.join(str(c) for c in version.classes)}")
    if version.description:
        lines += ["", version.description]
    lines += ["", "## Intended use", ""]
    if version.charter is not None:
        lines.append(
            f"Governed by charter `{version.charter.ref}` (sha256 "
            f"`{version.charter.content_hash[:12]}`, see `charter.json`): its objective, "
            "intended use and out-of-scope uses apply."
        )
    else:
        lines.append("TODO: the project had no charter at registration; describe the intended use.")
    lines += ["", "## Training data", ""]
    if version.datasets:
        for ds in version.datasets:
            rows = f", {ds.rows:,} rows" if ds.rows is not None else ""
            lines.append(f"- `{ds.ref}` ({ds.role}{rows})")
    else:
        lines.append("TODO: not recorded at registration.")
    if version.source_run_id:
        lines += ["", f"Trained in run `{version.source_run_id}`."]
    lines += ["", "## Metrics (from the training run)", ""]
    if version.metrics:
        lines += ["| metric | value |", "|---|---|"]
        lines += [
            f"| {_cell(k)} | {_cell(format(v, '.6g') if isinstance(v, float) else v)} |"
            for k, v in version.metrics.items()
        ]
    else:
        lines.append("TODO: none recorded; add the evaluation results.")
    lines += [
        "",
        "## Inputs",
        "",
        f"Domain from: {version.signature.source}.",
        "",
        "| column | type | expected |",
        "|---|---|---|",
    ]
    lines += [
        f"| {_cell(c.name)} | {c.type} | {_cell(c.expected())} |" for c in version.signature.inputs
    ]
    lines += [
        "",
        "## Evaluation, fairness and limitations",
        "",
        "TODO: add the evaluation report (steward evaluate), per-group results for the "
        "charter's sensitive attributes, known failure modes and out-of-scope uses.",
        "",
    ]
    return "\n".join(lines)
