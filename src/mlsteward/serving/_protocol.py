"""The wire format of the model server: request bodies, ids, and the OpenAPI descriptions.

A predict body is ``{"records": [{column: value, ...}, ...]}`` with an optional ``"ids"``
list (one distinct id per row), or MLflow's ``{"dataframe_records": [...]}`` /
``{"dataframe_split": {"columns": [...], "data": [[...]]}}``, or a bare list of rows, or
one row. :func:`parse_rows` turns any of them into rows (dicts) and ids, or explains what
is wrong (:class:`InvalidInput`, HTTP 422).
"""

from __future__ import annotations

import re
from typing import Any, Final

from mlsteward.core import InvalidInput

__all__ = [
    "FEEDBACK_BODY",
    "ID_PATTERN",
    "JSON",
    "PREDICT_BODY",
    "PREDICT_RESPONSES",
    "SHAPE",
    "parse_rows",
]

ID_PATTERN = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
JSON: Final = "application/json"

PREDICT_BODY: Final[dict[str, Any]] = {
    "required": True,
    "content": {
        JSON: {
            "schema": {
                "oneOf": [
                    {
                        "type": "object",
                        "properties": {
                            "records": {"type": "array", "items": {"type": "object"}},
                            "ids": {"type": "array", "items": {"type": "string"}},
                        },
                        "required": ["records"],
                    },
                    {
                        "type": "object",
                        "properties": {
                            "dataframe_split": {
                                "type": "object",
                                "properties": {
                                    "columns": {"type": "array", "items": {"type": "string"}},
                                    "data": {"type": "array", "items": {"type": "array"}},
                                },
                            }
                        },
                    },
                    {"type": "array", "items": {"type": "object"}},
                    {"type": "object", "description": "one row: column name to value"},
                ]
            },
            "example": {"records": [{"AGEP": 35, "SCHL": "21", "SEX": "1"}]},
        }
    },
}
PREDICT_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    200: {
        "description": "Predictions, one per row",
        "content": {
            JSON: {
                "example": {
                    "request_id": "01931f6a2c7d4e0f9a1b",
                    "endpoint": "acs",
                    "model": "acs",
                    "model_version": 2,
                    "ids": ["01931f6a2c7d4e0f9a1b"],
                    "predictions": [1],
                    "probabilities": [[0.18, 0.82]],
                    "classes": [0, 1],
                }
            }
        },
    },
    400: {"description": "The body is not JSON"},
    404: {"description": "No such endpoint on this server"},
    413: {"description": "The body is larger than the server's limit"},
    422: {"description": "Rows that do not match the model's signature (every problem listed)"},
    500: {"description": "The model failed on valid input"},
    503: {"description": "The endpoint has no live model"},
}
FEEDBACK_BODY: Final[dict[str, Any]] = {
    "required": True,
    "content": {
        JSON: {
            "schema": {
                "type": "object",
                "properties": {
                    "request_id": {"type": "string"},
                    "label": {},
                    "request_ids": {"type": "array", "items": {"type": "string"}},
                    "labels": {"type": "array"},
                    "feedback": {"type": "array", "items": {"type": "object"}},
                },
            },
            "example": {"feedback": [{"request_id": "01931f6a2c7d4e0f9a1b", "label": 1}]},
        }
    },
}


SHAPE = (
    'Send {"records": [{"column": value, ...}, ...]} (one object per row), MLflow\'s '
    '{"dataframe_split": {"columns": [...], "data": [[...]]}}, a list of rows, or one row.'
)


def parse_rows(payload: Any, max_rows: int) -> tuple[list[Any], list[str] | None]:
    ids: Any = None
    if isinstance(payload, list):
        rows: Any = payload
    elif isinstance(payload, dict):
        if "records" in payload:
            rows, ids = payload["records"], payload.get("ids")
        elif "dataframe_records" in payload:
            rows = payload["dataframe_records"]
        elif "dataframe_split" in payload:
            split = payload["dataframe_split"]
            if not isinstance(split, dict) or not isinstance(split.get("columns"), list):
                raise InvalidInput(f"'dataframe_split' needs 'columns' and 'data'. {SHAPE}")
            columns, data = split["columns"], split.get("data")
            if not isinstance(data, list) or any(
                not isinstance(r, list) or len(r) != len(columns) for r in data
            ):
                raise InvalidInput(
                    f"'dataframe_split.data' must be a list of rows of {len(columns)} values "
                    f"(one per column). {SHAPE}"
                )
            rows = [dict(zip(columns, r, strict=True)) for r in data]
        else:
            rows = [payload]
    else:
        raise InvalidInput(f"The body is JSON {type(payload).__name__}, not rows. {SHAPE}")
    if not isinstance(rows, list) or not rows:
        raise InvalidInput(f"No rows to predict. {SHAPE}")
    if len(rows) > max_rows:
        raise InvalidInput(
            f"{len(rows)} rows in one request; this server takes at most {max_rows}. Split "
            "the rows into several requests, or score files with: steward predict."
        )
    bad = next((i for i, r in enumerate(rows) if not isinstance(r, dict)), None)
    if bad is not None:
        raise InvalidInput(
            f"Row {bad} is a JSON {type(rows[bad]).__name__}, not an object mapping column "
            f"names to values. {SHAPE}"
        )
    if ids is not None and (
        not isinstance(ids, list)
        or len(ids) != len(rows)
        or any(not isinstance(i, str) or not ID_PATTERN.match(i) for i in ids)
        or len(set(ids)) != len(ids)
    ):
        raise InvalidInput(
            f"'ids' must list one distinct id per row ({len(rows)}), each 1 to 128 "
            "letters, digits or . _ : -"
        )
    return rows, ids
