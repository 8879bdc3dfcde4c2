"""Artifacts of runs: files, directories, figures, tables, text and models.

Bytes go to the content-addressed artifact store first (atomic, deduplicated); the run
records each under a path name in one transaction. A path is immutable within a run:
logging the same content again is a no-op, different content under a taken path is a
:class:`Conflict`.
"""

from __future__ import annotations

import io
import json
import mimetypes
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlsteward.core import Conflict, InvalidInput, NotFound, utcnow
from mlsteward.store import Store
from mlsteward.store.metadata import RunArtifactRow, SqlRunRepository
from mlsteward.tracking._models import serialize_model
from mlsteward.tracking._records import CandidateModel, RunArtifact
from mlsteward.tracking._service import artifact_record
from mlsteward.tracking._validation import check_artifact_path

__all__ = [
    "PendingArtifact",
    "directory_artifacts",
    "figure_artifact",
    "file_artifact",
    "model_artifact",
    "record_artifacts",
    "table_artifact",
]

PARQUET = "application/vnd.apache.parquet"


@dataclass(frozen=True)
class PendingArtifact:
    """An artifact whose bytes are stored and whose record is not written yet."""

    path: str
    digest: str
    size: int
    kind: str
    media_type: str
    meta: dict[str, Any] = field(default_factory=dict)


def _media_type(name: str) -> str:
    if name.endswith(".parquet"):
        return PARQUET
    guessed, _ = mimetypes.guess_type(name)
    return guessed or "application/octet-stream"


def bytes_artifact(
    store: Store,
    data: bytes,
    path: str,
    kind: str,
    media_type: str | None = None,
    meta: dict[str, Any] | None = None,
) -> PendingArtifact:
    check_artifact_path(path)
    digest = store.artifacts.put(data)
    return PendingArtifact(
        path, digest, len(data), kind, media_type or _media_type(path), meta or {}
    )


def file_artifact(store: Store, file: str | os.PathLike[str], name: str | None) -> PendingArtifact:
    source = Path(file)
    if not source.is_file():
        raise NotFound(f"Cannot log artifact {source}: no such file.")
    path = check_artifact_path(name or source.name)
    digest = store.artifacts.put_file(source)
    return PendingArtifact(path, digest, source.stat().st_size, "file", _media_type(path))


def directory_artifacts(
    store: Store, directory: str | os.PathLike[str], name: str | None
) -> list[PendingArtifact]:
    root = Path(directory)
    prefix = check_artifact_path(name or root.name)
    out = []
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = file.relative_to(root).as_posix()
        out.append(file_artifact(store, file, f"{prefix}/{rel}"))
    if not out:
        raise InvalidInput(f"Cannot log directory {root}: it contains no files.")
    return out


def figure_artifact(store: Store, figure: Any, name: str) -> PendingArtifact:
    """A matplotlib figure (.png/.svg/.pdf/.jpg) or an Altair chart (.json/.html/.svg/.png)."""
    path = check_artifact_path(name)
    suffix = Path(path).suffix.lower()
    if hasattr(figure, "savefig"):
        formats = {".png", ".svg", ".pdf", ".jpg", ".jpeg"}
        if suffix not in formats:
            raise InvalidInput(
                f"Cannot save a matplotlib figure as {path!r}: give a name ending in one of "
                f"{', '.join(sorted(formats))}, e.g. 'roc.png'."
            )
        buffer = io.BytesIO()
        figure.savefig(buffer, format=suffix.lstrip("."), bbox_inches="tight")
        data = buffer.getvalue()
        return bytes_artifact(store, data, path, "figure", meta={"library": "matplotlib"})
    if hasattr(figure, "to_dict") and hasattr(figure, "to_json"):
        formats = {".json", ".html", ".svg", ".png"}
        if suffix not in formats:
            raise InvalidInput(
                f"Cannot save an Altair chart as {path!r}: give a name ending in one of "
                f"{', '.join(sorted(formats))} (.json keeps the Vega-Lite spec)."
            )
        if suffix == ".json":
            data = figure.to_json().encode("utf-8")
        elif suffix == ".html":
            data = figure.to_html().encode("utf-8")
        else:
            import vl_convert as vlc

            spec = figure.to_dict()
            data = (
                vlc.vegalite_to_svg(spec).encode("utf-8")
                if suffix == ".svg"
                else vlc.vegalite_to_png(spec)
            )
        return bytes_artifact(store, data, path, "figure", meta={"library": "altair"})
    raise InvalidInput(
        f"Cannot log a {type(figure).__name__} as a figure: expected a matplotlib Figure "
        "(anything with savefig) or an Altair chart. Save other figures to a file and log it "
        "with run.log_artifact(path)."
    )


def table_artifact(store: Store, table: Any, name: str) -> PendingArtifact:
    """A pandas or polars DataFrame, or a pyarrow Table, as Parquet."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = name if name.endswith(".parquet") else f"{name}.parquet"
    check_artifact_path(path)
    if isinstance(table, pa.Table):
        arrow = table
    elif hasattr(table, "to_arrow"):  # polars
        arrow = table.to_arrow()
    else:
        import pandas as pd

        if not isinstance(table, pd.DataFrame):
            raise InvalidInput(
                f"Cannot log a {type(table).__name__} as a table: expected a pandas or polars "
                "DataFrame or a pyarrow Table."
            )
        arrow = pa.Table.from_pandas(table, preserve_index=False)
    buffer = io.BytesIO()
    pq.write_table(arrow, buffer, compression="zstd")
    meta = {"rows": arrow.num_rows, "columns": list(arrow.column_names)[:200]}
    return bytes_artifact(store, buffer.getvalue(), path, "table", PARQUET, meta)


def model_artifact(store: Store, model: Any, name: str) -> PendingArtifact:
    serialized = serialize_model(model)
    path = f"{check_artifact_path(name)}/{serialized.filename}"
    return bytes_artifact(
        store, serialized.data, path, "model", serialized.media_type, serialized.meta
    )


def record_artifacts(
    store: Store, run_id: str, pending: Sequence[PendingArtifact]
) -> list[RunArtifact]:
    """Record stored artifacts in a run, in one transaction (audited for models)."""
    out: list[RunArtifact] = []
    with store.transaction() as tx:
        repo = SqlRunRepository(tx.session)
        existing = {a.path: a for a in repo.artifacts(run_id)}
        for item in pending:
            old = existing.get(item.path)
            if old is not None:
                if old.digest != item.digest:
                    raise Conflict(
                        f"Run {run_id} already has an artifact at {item.path!r} with other "
                        f"content ({old.digest}); artifacts are immutable. Log the new "
                        "content under another name."
                    )
                out.append(artifact_record(old))
                continue
            row = RunArtifactRow(
                run_id=run_id,
                path=item.path,
                digest=item.digest,
                size=item.size,
                kind=item.kind,
                media_type=item.media_type,
                meta_json=json.dumps(item.meta, sort_keys=True, default=str),
                created_at=utcnow(),
            )
            repo.add_artifact(row)
            existing[item.path] = row
            if item.kind == "model":
                tx.audit(
                    "run.model",
                    "run",
                    run_id,
                    {
                        "path": item.path,
                        "digest": item.digest,
                        "format": item.meta.get("format"),
                        "class": item.meta.get("class"),
                    },
                )
            out.append(artifact_record(row))
    return out


def candidate(artifact: RunArtifact) -> CandidateModel:
    return CandidateModel.from_artifact(artifact)
