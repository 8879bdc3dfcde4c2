"""Batch scoring: ``steward predict NAME@V --input in.parquet --output out.parquet``.

The input is read in record batches (memory bounded by ``batch_rows``), each batch is
checked against the signature as a whole (the registry's vectorised check: a bad row
stops the run with every problem named) and predicted in one model call, the same way the
server predicts. The output holds the input columns, then ``prediction``, ``score`` and
one ``proba_<class>`` column per class for a classifier, and ``request_id``. With
``log_to=ENDPOINT`` the predictions are also written to that endpoint's prediction log,
like online traffic (``request_id`` from ``id_column`` when given, so that feedback can
name the rows by the caller's own ids).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from mlsteward.core import InvalidInput, NotFound
from mlsteward.registry import DomainMode, check_input, load_version, resolve_model
from mlsteward.serving._models import ServedModel
from mlsteward.serving._predlog import LogItem, PredictionLog
from mlsteward.store import Store

__all__ = ["BatchResult", "predict_batch"]

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class BatchResult:
    """What a batch run did."""

    model: str
    input: str
    output: str
    rows: int
    seconds: float
    logged_to: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "input": self.input,
            "output": self.output,
            "rows": self.rows,
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows / self.seconds, 1) if self.seconds else None,
            "logged_to": self.logged_to,
        }


def _output_table(
    batch: pa.RecordBatch, served: ServedModel, outputs: Any, ids: list[str]
) -> pa.Table:
    table = pa.Table.from_batches([batch])
    table = table.append_column("prediction", pa.array(outputs.predictions))
    if outputs.scores is not None:
        table = table.append_column("score", pa.array(outputs.scores, pa.float64()))
    if outputs.probabilities is not None and served.classes is not None:
        columns = list(zip(*outputs.probabilities, strict=True))
        for index, label in enumerate(served.classes):
            table = table.append_column(f"proba_{label}", pa.array(columns[index], pa.float64()))
    return table.append_column("request_id", pa.array(ids, pa.string()))


def predict_batch(
    store: Store,
    ref: str,
    input: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    project: str | None = None,
    batch_rows: int = 50_000,
    log_to: str | None = None,
    log_root: Path | None = None,
    id_column: str | None = None,
    domain: DomainMode = "strict",
    progress: Progress | None = None,
) -> BatchResult:
    """Score the Parquet file ``input`` with the version ``ref`` into ``output``."""
    source = Path(input)
    target = Path(output)
    if not source.is_file():
        raise NotFound(f"Input file {source} does not exist; expected a Parquet file.")
    if target.resolve() == source.resolve():
        raise InvalidInput("The output file must differ from the input file.")
    if batch_rows < 1:
        raise InvalidInput(f"batch_rows is a whole number >= 1, got {batch_rows}.")
    if log_to is not None and log_root is None:
        raise InvalidInput("Logging batch predictions needs the log directory (log_root).")
    version = resolve_model(store, project, ref)
    served = ServedModel.from_version(version, load_version(store, version), domain=domain)
    try:
        parquet = pq.ParquetFile(source)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InvalidInput(f"{source} is not a readable Parquet file: {exc}") from exc
    if id_column is not None and id_column not in parquet.schema_arrow.names:
        raise InvalidInput(
            f"The id column {id_column!r} is not in {source}; its columns are "
            f"{', '.join(parquet.schema_arrow.names[:40])}."
        )
    total = parquet.metadata.num_rows
    log = PredictionLog(log_root, fsync=True) if log_to is not None and log_root else None
    run = uuid.uuid4().hex[:12]
    started = time.perf_counter()
    done = 0
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{run}.tmp")
    writer: pq.ParquetWriter | None = None
    try:
        for batch in parquet.iter_batches(batch_size=batch_rows):
            frame = batch.to_pandas()
            checked = check_input(served.signature, frame, model=served.key, domain=domain)
            t0 = time.time()
            outputs = served.predict_frame(checked.data)
            latency = (time.time() - t0) * 1000 / max(len(frame), 1)
            if id_column is not None:
                ids = [str(v) for v in frame[id_column].tolist()]
            else:
                ids = [f"batch-{run}-{done + i}" for i in range(len(frame))]
            table = _output_table(batch, served, outputs, ids)
            if writer is None:
                writer = pq.ParquetWriter(temporary, table.schema, compression="zstd")
            writer.write_table(table)
            if log is not None:
                assert log_to is not None
                columns = (
                    {n: checked.data[n].tolist() for n in served.validator.names}
                    if not (served.signature.positional)
                    else None
                )
                log.record(LogItem(log_to, served, ids, t0, latency, "ok", None, outputs, columns))
                log.flush()
            done += len(frame)
            if progress is not None:
                progress(done, total)
        if writer is None:
            raise InvalidInput(f"{source} has no rows to score.")
        writer.close()
        writer = None
        os.replace(temporary, target)
    finally:
        if writer is not None:
            writer.close()
        temporary.unlink(missing_ok=True)
        if log is not None:
            log.close()
    return BatchResult(
        version.ref, str(source), str(target), done, time.perf_counter() - started, log_to
    )
