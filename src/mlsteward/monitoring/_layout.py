"""Where each field is in a prediction log: columns found by name.

Inputs are a struct column (``inputs``) or top-level columns (or ``inputs.x`` names);
outputs are top-level or in an ``outputs`` struct. The serving package's layout is one
case; any Parquet log with recognisable names is another.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from mlsteward.core import InvalidInput

__all__ = ["LABEL_NAMES", "LATENCY_NAMES", "TIME_NAMES", "LogLayout", "detect_layout", "quote"]

TIME_NAMES: Final = ("time", "timestamp", "ts", "created_at")
LATENCY_NAMES: Final = ("latency_ms", "latency")
LABEL_NAMES: Final = ("label", "y_true", "target", "ground_truth", "value")


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class LogLayout:
    """Where each field is in the log, as DuckDB expressions over its columns."""

    time: str
    request_id: str
    inputs: dict[str, str]
    model_version: str | None = None
    prediction: str | None = None
    probability: str | None = None
    probabilities: str | None = None
    latency_ms: str | None = None
    status: str | None = None
    error: str | None = None
    shadow: str | None = None
    date: str | None = None
    columns: dict[str, str] = field(default_factory=dict)


def detect_layout(columns: dict[str, str], struct_fields: Any, where: str) -> LogLayout:
    """The layout of a log with ``columns`` (name to DuckDB type); ``struct_fields(name)``
    lists the fields of a struct column."""
    lower = {name.lower(): name for name in columns}

    def top(*names: str) -> str | None:
        for name in names:
            if name in lower:
                return quote(lower[name])
        return None

    time = top(*TIME_NAMES)
    request_id = top("request_id", "id", "request")
    if time is None or request_id is None:
        raise InvalidInput(
            f"The prediction log at {where} has no {'time' if time is None else 'request_id'} "
            f"column; its columns are {', '.join(columns)}. The log must record the request "
            "id and the time of every prediction."
        )
    inputs: dict[str, str] = {}
    for struct in ("inputs", "input", "features", "request"):
        for name in struct_fields(lower.get(struct)):
            inputs[name] = f"{quote(lower[struct])}.{quote(name)}"
        if inputs:
            break
    if not inputs:
        for name in columns:
            for prefix in ("inputs.", "input.", "features."):
                if name.lower().startswith(prefix):
                    inputs[name[len(prefix) :]] = quote(name)
    out_struct = lower.get("outputs") or lower.get("output")
    outputs = {f.lower(): f for f in struct_fields(out_struct)}

    def output(*names: str) -> str | None:
        found = top(*names)
        if found is not None:
            return found
        for name in names:
            if name in outputs and out_struct is not None:
                return f"{quote(out_struct)}.{quote(outputs[name])}"
        return None

    model_version = top("model_version", "version")
    model_name = top("model", "model_name")
    version_type = columns.get(lower.get("model_version", lower.get("version", "")), "")
    if model_version is not None and model_name is not None and "INT" in version_type.upper():
        # serving logs the model's name and its version number apart: NAME@VERSION
        model_version = f"({model_name} || '@' || CAST({model_version} AS VARCHAR))"
    elif model_version is None:
        model_version = model_name
    return LogLayout(
        time=time,
        request_id=request_id,
        inputs=inputs,
        model_version=model_version,
        prediction=output("prediction", "predicted", "y_pred"),
        probability=output("probability", "score", "proba", "y_pred_proba"),
        probabilities=output("probabilities", "class_probabilities", "probas"),
        latency_ms=top(*LATENCY_NAMES),
        status=top("status", "outcome"),
        error=top("error", "error_message"),
        shadow=top("shadow", "is_shadow"),
        date=top("date"),
        columns=columns,
    )
